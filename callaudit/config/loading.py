"""Reading the config file: TOML in, one checked `Config` out, or one line saying what is wrong."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callaudit.config.sections import (
    SECTIONS,
    AudioSettings,
    BatchSettings,
    CompanySettings,
    DiarizationSettings,
    ListenSettings,
    ModelSettings,
    PolicySettings,
    RedactionSettings,
    RequestsSettings,
    RosterAgent,
    ScoringSettings,
    SipSettingsSection,
    StoreSettings,
    TranscriptionSettings,
    WebSettings,
)
from callaudit.errors import CallauditError

CONFIG_ENV, DB_ENV, SIP_PASSWORD_ENV = "CALLAUDIT_CONFIG", "CALLAUDIT_DB", "CALLAUDIT_SIP_PASSWORD"
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               tuple: "a list of strings"}


@dataclass(frozen=True)
class Config:
    """Every setting, checked; `source` is the file it came from ("defaults" when none)."""

    model: ModelSettings = field(default_factory=ModelSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    company: CompanySettings = field(default_factory=CompanySettings)
    diarization: DiarizationSettings = field(default_factory=DiarizationSettings)
    sip: SipSettingsSection = field(default_factory=SipSettingsSection)
    listen: ListenSettings = field(default_factory=ListenSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    redaction: RedactionSettings = field(default_factory=RedactionSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    web: WebSettings = field(default_factory=WebSettings)
    requests: RequestsSettings = field(default_factory=RequestsSettings)
    roster: tuple[RosterAgent, ...] = ()
    source: str = field(default="defaults", compare=False)

    @property
    def agents(self) -> dict[str, RosterAgent]:
        """Extension -> the [roster] entry of the agent who answers on it."""
        return {a.extension: a for a in self.roster}

    def with_overrides(self, **overrides: Any) -> "Config":
        """A copy with `section__key=value` overrides (from command-line options), checked like the file;
        None leaves a key as it is. Relative paths given on the command line are read from the cwd."""
        out = self
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, key = dotted.split("__")
            value = _check(section, key, value, "command line")
            value = _absolute(section, key, value, Path.cwd())
            out = dataclasses.replace(out, **{section: dataclasses.replace(getattr(out, section), **{key: value})})
        return out


def defaults() -> Config:
    """The settings when there is no config file, paths read from the cwd (the environment does not
    apply here: see `load`)."""
    return _build({}, Path.cwd(), "defaults")


def _fields(section: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(SECTIONS[section])}


def _kind(section: str, key: str) -> type:
    hint = typing.get_type_hints(SECTIONS[section])[key]
    return typing.get_origin(hint) or hint


def _check(section: str, key: str, value: Any, where: str) -> Any:
    """`value` for [section] key, converted to the field's type, or CallauditError naming both (and the
    value, unless the key holds a secret)."""
    kind = _kind(section, key)
    meta = _fields(section)[key].metadata
    secret = "(its value is not shown: it is a secret)" if meta.get("secret") else None
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is tuple:
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    got = secret or f"got {value!r}"
    if not ok:
        raise CallauditError(f"{where}: [{section}] {key} must be {_TYPE_NAMES[kind]}, {got}")
    if kind is float and not math.isfinite(value):  # TOML has nan and inf: no threshold means either
        raise CallauditError(f"{where}: [{section}] {key} must be a finite number, {got}")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise CallauditError(f"{where}: [{section}] {key} must be one of {', '.join(choices)}, {got}")
    if meta.get("cron") and value:
        import croniter

        if not croniter.croniter.is_valid(value):
            raise CallauditError(f"{where}: [{section}] {key} must be a cron line such as \"0 2 * * *\" "
                                 f"(minute hour day month weekday[ second]), {got}")
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise CallauditError(f"{where}: [{section}] {key} must be {span}, {got}")
    return value


def _is_path(section: str, key: str, value: Any) -> bool:
    if _fields(section)[key].metadata.get("path"):
        return True
    if (section, key) == ("model", "name"):  # a catalog name ("base") or a model folder
        return "/" in value or value.startswith(("~", "."))
    if (section, key) == ("store", "db"):    # a SQLite file, unless it is a URL (checked when opened)
        return bool(value) and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value)
    return False


def _absolute(section: str, key: str, value: Any, base: Path) -> Any:
    """Paths of a file are read from its folder; made absolute once, here, for every later stage."""
    if isinstance(value, str) and value and _is_path(section, key, value):
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else base / path)
    if (section, key) in (("batch", "cdr"), ("batch", "folders")):
        return tuple(str(p if (p := Path(v).expanduser()).is_absolute() else base / p) for v in value)
    return value


def _roster(table: Any, where: str) -> tuple[RosterAgent, ...]:
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
        for key, kinds in {"extension": (str, int), "name": (str,), "department": (str,)}.items():
            value = agent.get(key)
            if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
                raise CallauditError(f"{here}: {key} must be a string, got {value!r}")
        ext = str(agent["extension"]).strip()
        if not ext:
            raise CallauditError(f"{here}: extension is empty")
        if ext in seen:
            raise CallauditError(f"{here}: extension {ext} is already agent #{seen[ext]}'s; each extension once")
        seen[ext] = i
        extra = tuple((k, v) for k, v in agent.items() if k not in ("extension", "name", "department"))
        out.append(RosterAgent(ext, agent.get("name", ""), agent.get("department", ""), extra))
    return tuple(out)


def _read(p: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
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


def _environment(cfg: Config) -> Config:
    """The environment's overrides win over the file: a password kept out of it, a store named per job."""
    if os.environ.get(SIP_PASSWORD_ENV):
        cfg = dataclasses.replace(cfg, sip=dataclasses.replace(cfg.sip, password=os.environ[SIP_PASSWORD_ENV]))
    if os.environ.get(DB_ENV):
        db = _absolute("store", "db", os.environ[DB_ENV], Path.cwd())
        cfg = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, db=db))
    return cfg


def load(path: str | os.PathLike | None = None) -> Config:
    """Load and check the config named by `path`, $CALLAUDIT_CONFIG or ./callaudit.toml (else the defaults)."""
    if path is None:
        path = os.environ.get(CONFIG_ENV) or ("callaudit.toml" if Path("callaudit.toml").exists() else None)
    if path is None:
        return _environment(defaults())
    p = Path(path)
    return _environment(_build(_read(p), p.resolve().parent, str(p)))


def _build(raw: dict[str, Any], base: Path, source: str) -> Config:
    sections: dict[str, Any] = {}
    roster: tuple[RosterAgent, ...] = ()
    for section, table in raw.items():
        if section == "roster":  # a list of people, not settings: checked field by field
            roster = _roster(table, source)
            continue
        if section not in SECTIONS:
            raise CallauditError(f"{source}: unknown section [{section}]; known: {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise CallauditError(f"{source}: {section} must be a [{section}] table")
        values = {}
        for key, value in table.items():
            if key not in _fields(section):
                raise CallauditError(f"{source}: unknown key [{section}] {key}; known: {', '.join(_fields(section))}")
            values[key] = _check(section, key, value, source)
        sections[section] = values
    built = {}
    for section, cls in SECTIONS.items():
        values = {**{f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}, **sections.get(section, {})}
        built[section] = cls(**{k: _absolute(section, k, v, base) for k, v in values.items()})
    return Config(**built, roster=roster, source=source)
