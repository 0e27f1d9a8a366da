"""Configuration: one TOML file, checked key by key against the schema below.

Found by `--config FILE`, else $CALLAUDIT_CONFIG, else ./callaudit.toml if present, else the defaults.
An unknown or ill-typed key stops the program with one line naming the key, the file and the
expected type: a typo in a threshold must never silently fall back to a default that fails people.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CallauditError

LANGUAGES = ("ru", "en", "auto")
# CTranslate2's types; any other fails only when the model loads, and reads like a damaged model then.
COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float32", "float16",
                 "bfloat16", "auto", "default")
ROLES = ("agent", "customer")

# section -> key -> (type, default, choices or None)
SCHEMA: dict[str, dict[str, tuple[type, Any, tuple | None]]] = {
    "model": {
        "name": (str, "base", None),          # catalog name or a folder path
        "dir": (str, "", None),               # where catalog models live; "" = default
        "threads": (int, 2, None),
        "beam_size": (int, 1, None),
        "batched": (bool, True, None),
        "batch_size": (int, 8, None),
        "compute_type": (str, "int8", COMPUTE_TYPES),
    },
    "transcription": {
        "language": (str, "ru", LANGUAGES),
        "vad_threshold": (float, 0.5, None),
        "min_silence": (float, 0.3, None),    # s of quiet that ends a stretch of speech
        "turn_gap": (float, 1.0, None),       # s of quiet inside one speaker's turn
    },
    "audio": {
        "left": (str, "agent", ROLES),
        "right": (str, "customer", ROLES),
    },
    "company": {
        "name": (str, "", None),
    },
    "diarization": {                          # mono recordings and listen-ins: who is agent, who customer
        "enabled": (bool, True, None),
        "min_separation": (float, 0.25, None),  # below: one voice (or two not told apart)
        "min_confidence": (float, 0.6, None),   # below: "roles uncertain", role rules not evaluated
    },
    "sip": {                                  # the PBX that `listen` and `spot-check` dial
        "host": (str, "", None),
        "port": (int, 5060, None),
        "transport": (str, "udp", ("udp", "tcp", "tls")),
        "tls_ca_file": (str, "", None),       # CA (PEM) that signed the PBX's certificate; "" = the system CAs
        "tls_verify": (bool, True, None),     # false: no certificate check (a lab only; listen warns)
        "user": (str, "", None),
        "password": (str, "", None),          # better: $CALLAUDIT_SIP_PASSWORD (wins when set)
        "domain": (str, "", None),            # "" = host
        "register": (bool, False, None),
        "local_port": (int, 0, None),         # 0 = any free port
        "spy_template": (str, "*222{ext}", None),
        "whisper_template": (str, "", None),  # "" = spy_template, then DTMF
        "barge_template": (str, "", None),
        "dtmf_listen": (str, "4", None),      # ChanSpy option d: 4 spy, 5 whisper, 6 barge; "" = send none
        "dtmf_whisper": (str, "5", None),
        "dtmf_barge": (str, "6", None),
        "rtp_timeout": (float, 10.0, None),   # s without RTP that end a session (the peer vanished)
        "connect_timeout": (float, 5.0, None),
    },
    "listen": {
        "recordings": (str, "recordings", None),  # folder for listen-in recordings (files mode 0600)
        "supervisor": (str, "", None),        # who listens, for the audit; "" = the login name
        "audit_log": (str, "", None),         # also append each listen session as JSON lines here
        "min_call": (float, 2.0, None),       # a spy call ending sooner with no speech: agent not on a call
    },
    "scoring": {
        "rules": (str, "", None),             # a pack file; "" = the default pack for the language
        "flag_below": (float, 80.0, None),
    },
    "redaction": {                            # masking numbers in every transcript shown or exported
        "enabled": (bool, True, None),
        "kinds": (list, ["card", "phone", "passport"], None),
        "min_digits": (int, 7, None),         # shorter runs of digits (amounts, times) stay readable
        "patterns": (list, [], None),         # extra regular expressions to mask
    },
    "policy": {                               # the disciplinary ladder HR reports recommend from
        "window_days": (int, 90, None),       # offences older than this no longer count
        "severities": (list, ["major", "critical"], None),  # which failed findings are offences
        "ladder": (list, ["verbal warning", "written reprimand", "final warning"], None),
    },
    "store": {
        "db": (str, "", None),                # "" = ./callaudit.db; a SQLite file path or a postgresql:// URL
        "lease_seconds": (float, 30.0, None), # a claimed call returns to the queue this long after its worker dies
        "poll_seconds": (float, 2.0, None),   # how often an idle worker looks for work
        "max_attempts": (int, 5, None),       # claims of one call (workers died on it) before it is failed
    },
    "batch": {
        "workers": (int, 1, None),            # worker processes, each loads the model once
        "extensions": (list, [".wav", ".flac", ".ogg", ".opus", ".mp3"], None),
        "patterns": (list, [], None),         # extra file-name regexes, tried before the built-in ones
        "cdr": (list, [], None),              # CDR CSV files read besides those found next to recordings
        "extension_pattern": (str, r"^\d{2,6}$", None),  # what an agent's extension looks like
        "min_age_seconds": (float, 0.0, None),  # skip files modified more recently (still recording)
    },
}


@dataclass(frozen=True)
class Config:
    """Validated settings; `values[section][key]`."""

    values: dict[str, dict[str, Any]]
    source: str = "defaults"
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    def with_overrides(self, **overrides: Any) -> "Config":
        """A copy with `section__key=value` overrides (from CLI options), validated like the file."""
        values = {s: dict(v) for s, v in self.values.items()}
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, key = dotted.split("__")
            values[section][key] = _check(section, key, value, "command line")
        return Config(values, self.source, self.extra)


# section -> key -> (lowest, highest or None): outside these a value crashes the model or, worse, silently
# hears nothing (vad_threshold 1.5: no speech at all, every call dead air).
LIMITS: dict[str, dict[str, tuple[float, float | None]]] = {
    "model": {"threads": (1, None), "beam_size": (1, 20), "batch_size": (1, None)},
    "transcription": {"vad_threshold": (0.01, 0.99), "min_silence": (0.0, 10.0), "turn_gap": (0.0, 60.0)},
    "scoring": {"flag_below": (0.0, 100.0)},
}

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list of strings"}


def _check(section: str, key: str, value: Any, where: str) -> Any:
    kind, _, choices = SCHEMA[section][key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is list and ok:
        ok = all(isinstance(v, str) for v in value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise CallauditError(f"{where}: [{section}] {key} must be {_TYPE_NAMES[kind]}, got {value!r}")
    if choices and value not in choices:
        raise CallauditError(f"{where}: [{section}] {key} must be one of {', '.join(choices)}, got {value!r}")
    low, high = LIMITS.get(section, {}).get(key, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise CallauditError(f"{where}: [{section}] {key} must be {span}, got {value!r}")
    return value


def defaults() -> Config:
    return Config({s: {k: (list(spec[1]) if isinstance(spec[1], list) else spec[1]) for k, spec in keys.items()}
                   for s, keys in SCHEMA.items()})


ROSTER_FIELDS = {"extension": (str, int), "name": (str,), "department": (str,)}


def _check_roster(table: Any, where: str) -> dict[str, Any]:
    """[roster] agents = [{extension, name, department, ...}]: the known fields are type-checked and an
    extension may appear once; other fields (email, team, ...) are kept for later stages."""
    if not isinstance(table, dict):
        raise CallauditError(f"{where}: roster must be a [roster] table")
    for key in table:
        if key != "agents":
            raise CallauditError(f"{where}: unknown key [roster] {key}; known: agents")
    agents = table.get("agents", [])
    if not isinstance(agents, list):
        raise CallauditError(f"{where}: [roster] agents must be a list of tables ([[roster.agents]])")
    out, seen = [], {}
    for i, agent in enumerate(agents, 1):
        here = f"{where}: [roster] agent #{i}"
        if not isinstance(agent, dict):
            raise CallauditError(f"{here} must be a table with extension, name, department")
        if "extension" not in agent:
            raise CallauditError(f"{here} has no extension: every agent needs the extension they answer on")
        for key, kinds in ROSTER_FIELDS.items():
            value = agent.get(key)
            if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
                raise CallauditError(f"{here}: {key} must be a string, got {value!r}")
        ext = str(agent["extension"]).strip()
        if not ext:
            raise CallauditError(f"{here}: extension is empty")
        if ext in seen:
            raise CallauditError(f"{here}: extension {ext} is already agent #{seen[ext]}'s; each extension once")
        seen[ext] = i
        out.append({**agent, "extension": ext, "name": agent.get("name", ""),
                    "department": agent.get("department", "")})
    return {"agents": out}


def roster(config: Config) -> dict[str, dict[str, Any]]:
    """Extension -> agent ({extension, name, department, ...}) from the checked [roster]."""
    return {a["extension"]: a for a in config.extra.get("roster", {}).get("agents", [])}


def load(path: str | os.PathLike | None = None) -> Config:
    """Load and validate the config named by `path`, $CALLAUDIT_CONFIG or ./callaudit.toml."""
    if path is None:
        path = os.environ.get("CALLAUDIT_CONFIG") or ("callaudit.toml" if Path("callaudit.toml").exists() else None)
    if path is None:
        return defaults()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CallauditError(f"config file {p} not found: check --config or CALLAUDIT_CONFIG") from None
    except IsADirectoryError:  # e.g. a folder ./callaudit.toml, which no option check sees
        raise CallauditError(f"config file {p} is a folder: name a TOML file") from None
    except OSError as e:
        raise CallauditError(f"config file {p}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError:
        raise CallauditError(f"config file {p} is not UTF-8 text: save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise CallauditError(f"config file {p}: {e}: fix the TOML syntax (see config.example.toml)") from None
    values = defaults().values
    extra: dict[str, Any] = {}
    for section, table in raw.items():
        if section == "roster":  # a list of people, not settings: checked field by field
            extra[section] = _check_roster(table, str(p))
            continue
        if section not in SCHEMA:
            raise CallauditError(f"{p}: unknown section [{section}]; known: {', '.join(SCHEMA)}")
        if not isinstance(table, dict):
            raise CallauditError(f"{p}: {section} must be a [{section}] table")
        for key, value in table.items():
            if key not in SCHEMA[section]:
                raise CallauditError(f"{p}: unknown key [{section}] {key}; known: {', '.join(SCHEMA[section])}")
            values[section][key] = _check(section, key, value, str(p))
    return Config(values, str(p), extra)
