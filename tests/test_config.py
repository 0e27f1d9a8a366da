"""The config file: every mistake stops callaudit with one line naming the file and the key.

Run through the real `callaudit` command (click's CliRunner) and `callaudit.config.load`.
A broken config is noticed before any model is loaded, so these tests are quick.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from clihelp import one_error_line, run

from callaudit import config
from callaudit.errors import CallauditError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """No config from the person running the tests: not theirs in the environment, none in the cwd."""
    monkeypatch.delenv("CALLAUDIT_CONFIG", raising=False)
    monkeypatch.delenv("CALLAUDIT_MODELS", raising=False)
    monkeypatch.chdir(tmp_path)


BAD_CONFIGS = {
    "unknown key": (b'[model]\nthredas = 2\n', ["[model] thredas", "unknown key"]),
    "unknown section": (b'[modle]\nname = "base"\n', ["[modle]", "unknown section"]),
    "ill-typed key": (b'[model]\nthreads = "two"\n', ["[model] threads", "integer", "'two'"]),
    "bool for an integer": (b'[model]\nthreads = true\n', ["[model] threads", "integer"]),
    "number for a string": (b'[model]\nname = 3\n', ["[model] name", "string"]),
    "bad choice": (b'[transcription]\nlanguage = "de"\n', ["[transcription] language", "ru, en, auto", "'de'"]),
    "bad role": (b'[audio]\nleft = "boss"\n', ["[audio] left", "agent, customer"]),
    # values of the right type that would crash the model, or silently hear nothing at all
    "beam size zero": (b'[model]\nbeam_size = 0\n', ["[model] beam_size", "between 1 and 20", "0"]),
    "no threads": (b'[model]\nthreads = -2\n', ["[model] threads", "at least 1"]),
    "VAD threshold above 1": (b'[transcription]\nvad_threshold = 1.5\n', ["[transcription] vad_threshold", "1.5"]),
    "negative turn gap": (b'[transcription]\nturn_gap = -1\n', ["[transcription] turn_gap", "-1.0"]),
    "unknown compute type": (b'[model]\ncompute_type = "int4"\n', ["[model] compute_type", "int8", "'int4'"]),
    "bad schedule": (b'[batch]\nschedule = "0 25 * * *"\n', ["[batch] schedule", "cron line", "'0 25 * * *'"]),
    "bad stalled check": (b'[store]\nstalled_check = "often"\n', ["[store] stalled_check", "cron line"]),
    "section not a table": (b'model = "base"\n', ["[model]", "table"]),
    "broken TOML": (b'[model\nname = "base"\n', ["TOML", "line 1"]),
    # Windows-1251 «Рога и Копыта», as a Russian Notepad would save it.
    "not UTF-8": ('[company]\nname = "Рога и Копыта"\n'.encode("cp1251"), ["UTF-8"]),
}


@pytest.mark.parametrize("content,expected", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, content, expected):
    path = tmp_path / "callaudit-bad.toml"
    path.write_bytes(content)
    # transcribe reads the config before it loads a model or opens a file.
    result = run("--config", str(path), "transcribe", "call.wav")
    one_error_line(result, str(path), *expected)
    with pytest.raises(CallauditError) as e:
        config.load(path)
    assert str(path) in str(e.value) and all(text in str(e.value) for text in expected)


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nowhere.toml"
    one_error_line(run("--config", str(missing), "transcribe", "call.wav"), str(missing), "not found")
    one_error_line(run("transcribe", "call.wav", env={"CALLAUDIT_CONFIG": str(missing)}), str(missing), "not found")


def test_a_folder_named_as_config(tmp_path):
    folder = tmp_path / "callaudit.toml"
    folder.mkdir()
    # --config checks this itself (a usage error); ./callaudit.toml is found by callaudit.config.
    result = run("transcribe", "call.wav")
    one_error_line(result, "callaudit.toml", "folder")
    with pytest.raises(CallauditError, match="folder"):
        config.load(folder)


def _dir_config(path: Path, models_dir: Path) -> Path:
    path.write_text(f'[model]\ndir = "{models_dir}"\n')
    return path


def test_config_named_by_option_by_env_and_in_cwd(tmp_path):
    """`models list` prints the models folder, which the config sets: proof of which file was read."""
    by_option = _dir_config(tmp_path / "option.toml", tmp_path / "models-from-option")
    by_env = _dir_config(tmp_path / "env.toml", tmp_path / "models-from-env")
    _dir_config(tmp_path / "callaudit.toml", tmp_path / "models-from-cwd")

    out = run("models", "list").output
    assert f"folder: {tmp_path / 'models-from-cwd'}" in out
    assert "not installed (callaudit models install base)" in out

    out = run("models", "list", env={"CALLAUDIT_CONFIG": str(by_env)}).output
    assert f"folder: {tmp_path / 'models-from-env'}" in out

    # --config wins over the environment, which wins over ./callaudit.toml.
    out = run("--config", str(by_option), "models", "list", env={"CALLAUDIT_CONFIG": str(by_env)}).output
    assert f"folder: {tmp_path / 'models-from-option'}" in out


def test_load_reads_env_and_returns_checked_values(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nbeam_size = 5\n[transcription]\nlanguage = "en"\nmin_silence = 1\n')
    monkeypatch.setenv("CALLAUDIT_CONFIG", str(path))
    cfg = config.load()
    assert cfg.source == str(path)
    assert cfg.model.beam_size == 5
    assert cfg.transcription.language == "en"
    # An integer where a number is expected is fine, and becomes a float.
    assert cfg.transcription.min_silence == 1.0 and isinstance(cfg.transcription.min_silence, float)
    assert cfg.model.name == "base"  # untouched keys keep their defaults


def test_no_config_anywhere_means_defaults():
    assert config.load() == config.defaults()


def test_example_config_documents_every_key_with_its_default(monkeypatch):
    """config.example.toml loads cleanly, sets every key the schema knows, and to its default:
    so the documented defaults cannot drift from the real ones."""
    monkeypatch.chdir(ROOT)  # its relative paths are read from its folder, the defaults' from the cwd
    example = ROOT / "config.example.toml"
    assert config.load(example) == config.defaults()
    raw = tomllib.loads(example.read_text(encoding="utf-8"))
    missing = [f"[{s}] {f.name}" for s, cls in config.SECTIONS.items() for f in dataclasses.fields(cls)
               if f.name not in raw.get(s, {})]
    assert not missing, f"config.example.toml does not document {', '.join(missing)}"
