"""Rule packs: versioned TOML files of rules, each with its own pass and fail examples.

Loading checks everything a rule author can get wrong and reports it as `file:line: reason`,
so that `rules lint` and `score` refuse a bad pack the same way, before any call is judged by it.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callaudit.analysis import intentpack
from callaudit.analysis.intentpack import PackIntents
from callaudit.analysis.kinds import KINDS, REQUIRED, SPEAKERS
from callaudit.analysis.paths import rules_dir
from callaudit.errors import CallauditError
from callaudit.text.matching import Phrases, compile_phrases

SEVERITIES = ("info", "minor", "major", "critical")
COMMON = {"id", "title", "description", "severity", "weight", "kind", "fuzzy", "example"}


@dataclass(frozen=True)
class Example:
    expect: str  # "pass" | "fail" | "not-evaluated"
    turns: tuple[tuple, ...]  # (speaker, start, end, text[, loudness dB above baseline])
    company: str = ""
    line: int = 0


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    severity: str
    weight: float
    kind: str
    params: dict[str, Any]
    fuzzy: float
    examples: tuple[Example, ...]
    line: int
    compiled: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RulePack:
    id: str
    language: str
    version: str
    title: str
    path: Path
    sha256: str
    fuzzy: float
    hold_phrases: Phrases
    rules: tuple[Rule, ...]
    meaning: PackIntents = field(default_factory=PackIntents, compare=False)
    hold_intent: str = ""        # the intent that announces a hold ("" : hold_phrases only)
    learned_sha256: str = ""     # the packs it learns from ([pack] learn_from), hashed together

    @property
    def version_tag(self) -> str:
        """Cited in every verdict: pack id, version and the first bytes of the file's hash (and of
        the packs its intents learn from: their examples shape its judge too)."""
        tag = f"{self.id}@{self.version}+{self.sha256[:8]}"
        return f"{tag}.{self.learned_sha256[:8]}" if self.learned_sha256 else tag

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise CallauditError(f"{self.path}: no rule '{rule_id}'; rules: {', '.join(r.id for r in self.rules)}")


class PackError(CallauditError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0] + (f" (and {len(problems) - 1} more: run `callaudit rules lint`)"
                                         if len(problems) > 1 else ""))


def default_pack_path(language: str) -> Path:
    """The default pack for a call in `language` (Russian for anything else, the method's own)."""
    return rules_dir() / f"client-service.{language if language in ('ru', 'en') else 'ru'}.toml"


def default_packs() -> list[Path]:
    return sorted(rules_dir().glob("*.toml"))


class PackChooser:
    """Which pack judges a call: the one named (--rules, [scoring] rules) for every call, else the
    default pack of the call's language. Chosen in one place — the scorer — and each pack loaded once."""

    def __init__(self, rules: str | Path | None = None):
        self.rules = Path(rules) if rules else None
        self._loaded: dict[Path, RulePack] = {}

    def for_language(self, language: str) -> "RulePack":
        path = self.rules or default_pack_path(language)
        if path not in self._loaded:
            self._loaded[path] = load(path)
        return self._loaded[path]


def _block_lines(text: str) -> list[int]:
    """Line numbers of each [[rule]] header, in order."""
    return [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[rule]]"]


def _key_line(text: str, start: int, key: str) -> int:
    lines = text.splitlines()
    for i in range(start - 1, len(lines)):
        if i > start - 1 and lines[i].strip() == "[[rule]]":
            break
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]) or lines[i].strip() == f"[[rule.{key}]]":
            return i + 1
    return start


def load(path: str | Path, strict: bool = True) -> RulePack:
    """Load and check a pack; raise PackError listing every `file:line: reason` found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CallauditError(f"rule pack {path} not found: name a file in rules/ or check --rules") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise PackError([f"{path}:{m.group(1) if m else 1}: invalid TOML: {e}"]) from None
    problems: list[str] = []
    meta = raw.get("pack")
    if not isinstance(meta, dict):
        raise PackError([f"{path}:1: missing [pack] table (id, language, version)"])
    for key in ("id", "language", "version"):
        if not isinstance(meta.get(key), str) or not meta.get(key):
            problems.append(f"{path}:1: [pack] {key} must be a non-empty string")
    language = meta.get("language", "ru")
    fuzzy = meta.get("fuzzy", 85)
    hold = meta.get("hold_phrases", [])
    if not isinstance(hold, list) or not all(isinstance(p, str) for p in hold):
        problems.append(f"{path}:{_key_line(text, 1, 'hold_phrases')}: [pack] hold_phrases must be a list of strings")
        hold = []
    meaning, errs = intentpack.load(raw, text, path, meta, rules_dir())
    problems += errs
    hold_intent = meta.get("hold_intent", "")
    if hold_intent and not meaning.get(hold_intent):
        problems.append(f"{path}:{_key_line(text, 1, 'hold_intent')}: [pack] hold_intent names no intent "
                        f"'{hold_intent}'; intents: {', '.join(meaning.names) or 'none'}")
    elif hold_intent:
        hold = [*hold, *meaning.get(hold_intent).phrases]
    rules_raw = raw.get("rule", [])
    heads = _block_lines(text)
    rules, seen = [], {}
    for n, r in enumerate(rules_raw):
        line = heads[n] if n < len(heads) else 1
        where = f"{path}:{line}"
        rid = r.get("id")
        if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", rid):
            problems.append(f"{where}: rule id must be lower-case words joined by '-', got {rid!r}")
            continue
        if rid in seen:
            problems.append(f"{where}: duplicate rule id '{rid}' (first at line {seen[rid]})")
            continue
        seen[rid] = line
        rule, errs = _rule(r, rid, path, text, line, language, fuzzy, strict, meaning)
        problems += errs
        if rule:
            rules.append(rule)
    if not rules_raw:
        problems.append(f"{path}:1: the pack has no [[rule]] entries")
    if problems:
        raise PackError(problems)
    learned = hashlib.sha256(b"".join(p.read_bytes() for p in meaning.learn_from)).hexdigest() \
        if meaning.learn_from else ""
    return RulePack(meta["id"], language, meta["version"], meta.get("title", meta["id"]), path,
                    hashlib.sha256(text.encode()).hexdigest(), float(fuzzy),
                    compile_phrases(hold, language), tuple(rules), meaning, hold_intent, learned)


def _rule(r: dict, rid: str, path: Path, text: str, line: int, lang: str, fuzzy: float,
          strict: bool, meaning: PackIntents) -> tuple[Rule | None, list[str]]:
    errs: list[str] = []

    def err(key: str, reason: str) -> None:
        errs.append(f"{path}:{_key_line(text, line, key)}: rule '{rid}': {reason}")

    kind = KINDS.get(r.get("kind"))
    if kind is None:
        err("kind", f"unknown kind {r.get('kind')!r}; kinds: {', '.join(KINDS)}")
        return None, errs
    for key in ("title", "description"):
        if not isinstance(r.get(key), str) or not r.get(key).strip():
            err(key, f"{key} must be a non-empty string")
    if r.get("severity") not in SEVERITIES:
        err("severity", f"severity must be one of {', '.join(SEVERITIES)}, got {r.get('severity')!r}")
    weight = r.get("weight")
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
        err("weight", f"weight must be a number >= 0, got {weight!r}")
    params = {}
    for key, value in r.items():
        if key not in COMMON and key not in kind.params:
            err(key, f"unknown parameter '{key}' for kind {kind.name}; parameters: {', '.join(kind.params)}")
    for key, (typ, default) in kind.params.items():
        value = r.get(key, default)
        if value is REQUIRED:
            err("kind", f"kind {kind.name} needs parameter '{key}'")
            continue
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            err(key, f"parameter '{key}' must be {typ.__name__}, got {value!r}")
            continue
        params[key] = value
    problems = kind.check(params) if len(params) == len(kind.params) else []
    if not problems and len(params) == len(kind.params):
        for key, name, speaker in kind.intents(params):
            spec = meaning.get(name)
            if spec is None:
                problems.append((key, f"{key} names no intent '{name}'; intents: {', '.join(meaning.names) or 'none'}"
                                      " (define it in an [intent.NAME] table)"))
            elif speaker and spec.speaker != speaker:
                problems.append((key, f"intent '{name}' is the {spec.speaker}'s, this rule listens to the {speaker}"))
    for key, reason in problems:
        err(key, reason)
    compiled = kind.compile(params, lang) if not problems and len(params) == len(kind.params) else {}
    if compiled is not None and not problems and len(params) == len(kind.params):
        # The exact phrases of the intents a rule names, for the live view's alerts.
        named = [meaning.get(name) for _, name, _ in kind.intents(params)]
        compiled = {**compiled, "intent_phrases": {s.name: compile_phrases([*s.phrases, *s.signals], lang,
                                                                           s.stem_phrases)
                                                   for s in named if s is not None}}
    rule_fuzzy = r.get("fuzzy", fuzzy)
    if not isinstance(rule_fuzzy, (int, float)) or not 50 <= rule_fuzzy <= 100:
        err("fuzzy", f"fuzzy must be a number from 50 to 100, got {rule_fuzzy!r}")
        rule_fuzzy = fuzzy
    examples = _examples(r.get("example", []), err, _example_lines(text, line))
    if strict and not kind.cross_call:  # a cross-call rule's cases are calls over days (tests/test_fulfilment.py)
        for expect in ("pass", "fail"):
            if not any(e.expect == expect for e in examples):
                err("example", f"no '{expect}' example: every rule proves itself with pass and fail examples")
    if errs:
        return None, errs
    return Rule(rid, r["title"], r["description"].strip(), r["severity"], float(weight), kind.name, params,
                float(rule_fuzzy), tuple(examples), line, compiled), errs


def _example_lines(text: str, rule_line: int) -> list[int]:
    lines = text.splitlines()
    out = []
    for i in range(rule_line, len(lines)):
        if lines[i].strip() == "[[rule]]":
            break
        if lines[i].strip() == "[[rule.example]]":
            out.append(i + 1)
    return out


EXPECT = ("pass", "fail", "not-evaluated")


def _examples(raw: Any, err, lines: list[int]) -> list[Example]:
    out = []
    if not isinstance(raw, list):
        err("example", "example must be [[rule.example]] tables")
        return out
    for k, ex in enumerate(raw):
        expect, turns = ex.get("expect"), ex.get("turns")
        if expect not in EXPECT:
            err("example", f"example expect must be one of {', '.join(EXPECT)}, got {expect!r}")
            continue
        ok = isinstance(turns, list) and turns and all(
            isinstance(t, list) and len(t) in (4, 5) and t[0] in SPEAKERS + ("unknown",)
            and all(isinstance(x, (int, float)) for x in t[1:3]) and isinstance(t[3], str)
            and t[1] <= t[2] for t in turns)
        if not ok:
            err("example", "example turns must be [speaker, start, end, text] or with a 5th item, "
                           "loudness in dB above the speaker's usual level")
            continue
        out.append(Example(expect, tuple(tuple(t) for t in turns), ex.get("company", ""),
                           lines[k] if k < len(lines) else 0))
    return out
