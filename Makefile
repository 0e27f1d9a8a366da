# The two set-up commands of the README. Each does all of its own set-up on a fresh Debian 12
# machine as root: Debian packages, the virtual environment in .venv, the models.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
DEBS := asterisk-core-sounds-ru-wav asterisk-core-sounds-en-wav sox libsox-fmt-mp3 ffmpeg fonts-dejavu-core libportaudio2 \
        festival festvox-ru flite
TEST_DEBS := postgresql sip-tester kamailio rtpengine-daemon chromium poppler-utils \
             pulseaudio pulseaudio-utils libasound2-plugins

.PHONY: demo test deps models debs clean

# The verdicts go to callaudit.db (SQLite) here; a second run finds them already scored.
demo: deps models
	$(BIN)/callaudit samples samples/ --series
	$(BIN)/callaudit batch samples/ --lang auto
	$(BIN)/callaudit calls list
	@for f in samples/*.wav; do $(BIN)/callaudit calls show $$(sha256sum "$$f" | cut -c1-16); done
	$(BIN)/callaudit requests list --period 2026-11-25..2026-11-26
	$(BIN)/callaudit report --period 2026-11 -o report.html
	@pw=$$(head -c 12 /dev/urandom | base64 | tr -d '/+='); \
	if printf '%s\n' "$$pw" | $(BIN)/callaudit users add demo-admin --role admin --password-stdin >/dev/null 2>&1; then \
	  echo "workspace: run '$(BIN)/callaudit serve' and open http://127.0.0.1:8080/ as demo-admin, one-time password $$pw (change it under My account)"; \
	else \
	  echo "workspace: run '$(BIN)/callaudit serve' and open http://127.0.0.1:8080/ as demo-admin (a new password: callaudit users password demo-admin)"; \
	fi

test: deps models
	$(BIN)/lint-imports
	$(BIN)/callaudit rules test
	$(BIN)/python -m pytest -q tests

deps: $(VENV)/.installed debs

# apt-get only when something is missing, so that a second run is quick and needs no network.
debs:
	@missing=$$(for p in $(DEBS) $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[voices,test]'
	touch $@

models: $(VENV)/.installed
	@for m in base tiny.en speaker-ge2e; do $(BIN)/callaudit models path $$m >/dev/null 2>&1 || $(BIN)/callaudit models install $$m; done

clean:
	rm -rf $(VENV) samples test-output
