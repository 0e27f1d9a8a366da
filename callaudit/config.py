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
        "compute_type": (str, "int8", None),
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
    "sip": {                                  # the PBX that `listen` and `spot-check` dial
        "host": (str, "", None),
        "port": (int, 5060, None),
        "transport": (str, "udp", ("udp", "tcp", "tls")),
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


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _check(section: str, key: str, value: Any, where: str) -> Any:
    kind, _, choices = SCHEMA[section][key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise CallauditError(f"{where}: [{section}] {key} must be {_TYPE_NAMES[kind]}, got {value!r}")
    if choices and value not in choices:
        raise CallauditError(f"{where}: [{section}] {key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def defaults() -> Config:
    return Config({s: {k: spec[1] for k, spec in keys.items()} for s, keys in SCHEMA.items()})


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
    except UnicodeDecodeError:
        raise CallauditError(f"config file {p} is not UTF-8 text: save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise CallauditError(f"config file {p}: {e}: fix the TOML syntax (see config.example.toml)") from None
    values = defaults().values
    extra: dict[str, Any] = {}
    for section, table in raw.items():
        if section in ("roster",):  # free-form tables read by later stages
            extra[section] = table
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
