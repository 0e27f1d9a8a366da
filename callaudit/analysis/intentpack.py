"""The intents of a rule pack: what its rules listen for, described by example utterances.

A pack's `[intent.NAME]` tables say, for one meaning (a greeting, a brush-off, a complaint), who
says it, exact phrases (a signal of their own), example utterances, hard negatives (sentences that
look alike but mean something else), the intents it may share a sentence with, and its
calibrated thresholds per embedder. `[talk]` holds plain talk of each speaker (no intent at all),
so that the judge learns what is nothing in particular. Loading checks every key and reports
`file:line: reason`, like the rules.

    [intent.greeting]
    speaker = "agent"
    overlaps = []
    phrases = ["здравствуйте", "добрый день"]          # exact phrases, also examples
    signals = []                                        # exact phrases that are no examples
    examples = ["Компания Ромашка, меня зовут Анна, чем могу помочь?"]
    negatives = ["Тариф «Доброе утро» стоит триста рублей."]
    thresholds."e5+use" = { threshold = 0.053, margin = 0.3, doubt = 0.05 }

Thresholds are set by `callaudit rules calibrate --write`; they are part of the file, so changing
one changes the pack's version tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callaudit.text.embeddings import NAMES as EMBEDDERS
from callaudit.text.intents import Intent

SPEAKERS = ("agent", "customer")
KEYS = {"speaker", "overlaps", "stem_phrases", "phrases", "signals", "examples", "negatives", "thresholds",
        "precision"}
NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Thresholds:
    """Where the judge's score makes a match (threshold, margin over rivals) and a doubt (band)."""

    threshold: float
    margin: float
    doubt: float


@dataclass(frozen=True)
class IntentSpec:
    """One intent as the pack describes it (one language: the pack's)."""

    name: str
    speaker: str
    overlaps: tuple[str, ...]
    stem_phrases: bool
    phrases: tuple[str, ...]
    examples: tuple[str, ...]
    negatives: tuple[str, ...]
    thresholds: dict[str, Thresholds] = field(compare=False)
    line: int = 0
    # Exact phrases that signal the intent but are no example of it: fragments («будет обслужен»,
    # "will be answered") that would teach the judge nothing whole. A signal, like a phrase, can
    # pass a required intent unless the judge is clearly against it; it never fails anyone.
    signals: tuple[str, ...] = ()
    # The precision calibration must reach on this intent (default: text.calibrate's target): 1.0
    # for the intents a rule fails people on when they are said (brush-offs, rudeness) or that
    # call for a response they may be failed for missing (complaints, requests).
    precision: float | None = None

    @property
    def all_examples(self) -> tuple[str, ...]:
        """The phrases first (a pack's phrases are its first examples), then the examples."""
        return tuple(dict.fromkeys([*self.phrases, *self.examples]))

    def intent(self, language: str, embedder: str) -> Intent | None:
        """The text layer's Intent with this embedder's thresholds; None when it has none."""
        t = self.thresholds.get(embedder)
        if t is None:
            return None
        return Intent(self.name, language, self.all_examples, self.negatives,
                      tuple(dict.fromkeys([*self.phrases, *self.signals])), self.stem_phrases,
                      self.speaker, self.overlaps, t.threshold, t.margin, t.doubt)


@dataclass(frozen=True)
class PackIntents:
    """Everything a pack says about meaning: its intents, plain talk, embedder, packs it learns from."""

    intents: tuple[IntentSpec, ...] = ()
    talk: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    embedder: str = "e5+use"
    learn_from: tuple[Path, ...] = ()

    def get(self, name: str) -> IntentSpec | None:
        return next((i for i in self.intents if i.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.intents)


def _table_line(text: str, header: str) -> int:
    for i, line in enumerate(text.splitlines()):
        if line.strip() == header:
            return i + 1
    return 1


def _key_line(text: str, start: int, key: str) -> int:
    lines = text.splitlines()
    for i in range(start, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if re.match(rf"\s*{re.escape(key)}\s*[=.]", lines[i]):
            return i + 1
    return start


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) and x.strip() for x in value)


def _thresholds(raw: Any, err) -> dict[str, Thresholds]:
    out: dict[str, Thresholds] = {}
    if not isinstance(raw, dict):
        err("thresholds", 'thresholds must be a table: thresholds."e5+use" = { threshold = …, margin = …, doubt = … }')
        return out
    for name, t in raw.items():
        if name not in EMBEDDERS:
            err("thresholds", f"thresholds for unknown embedder {name!r}; embedders: {', '.join(EMBEDDERS)}")
            continue
        ok = isinstance(t, dict) and set(t) == {"threshold", "margin", "doubt"} and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in t.values())
        if not ok:
            err("thresholds", f'thresholds."{name}" must be {{ threshold = number, margin = number, doubt = number }}')
            continue
        if t["margin"] < 0 or t["doubt"] < 0:
            err("thresholds", f'thresholds."{name}": margin and doubt must be >= 0')
            continue
        out[name] = Thresholds(float(t["threshold"]), float(t["margin"]), float(t["doubt"]))
    return out


def load(raw: dict, text: str, path: Path, meta: dict, bundled: Path | None = None) -> tuple[PackIntents, list[str]]:
    """The pack's intents from its parsed TOML (`raw`) and text (for line numbers), and problems.
    A `learn_from` pack is looked for beside this one, then among the `bundled` packs: a copy of a
    default pack edited elsewhere still learns from the other language's default pack."""
    problems: list[str] = []
    tables = raw.get("intent", {})
    if not isinstance(tables, dict):
        return PackIntents(), [f"{path}:{_table_line(text, '[intent]')}: intents must be [intent.NAME] tables"]
    specs = []
    for name, t in tables.items():
        line = _table_line(text, f"[intent.{name}]")

        def err(key: str, reason: str, _name=name, _line=line) -> None:
            problems.append(f"{path}:{_key_line(text, _line, key) if key else _line}: intent '{_name}': {reason}")

        if not NAME.fullmatch(name):
            err("", "an intent's name is lower-case words joined by '_'")
            continue
        if not isinstance(t, dict):
            err("", "an intent must be a table of keys")
            continue
        for key in t:
            if key not in KEYS:
                err(key, f"unknown key '{key}'; keys: {', '.join(sorted(KEYS))}")
        speaker = t.get("speaker")
        if speaker not in SPEAKERS:
            err("speaker", f"speaker must be agent or customer, got {speaker!r}")
        for key in ("overlaps", "phrases", "signals", "examples", "negatives"):
            if key in t and not _strings(t[key]):
                err(key, f"{key} must be a list of non-empty strings")
        precision = t.get("precision")
        if precision is not None and (isinstance(precision, bool) or not isinstance(precision, (int, float))
                                      or not 0.5 <= precision <= 1.0):
            err("precision", f"precision must be a number from 0.5 to 1.0, got {precision!r}")
            precision = None
        if "stem_phrases" in t and not isinstance(t["stem_phrases"], bool):
            err("stem_phrases", "stem_phrases must be true or false")
        phrases = tuple(t.get("phrases", ())) if _strings(t.get("phrases", [])) else ()
        examples = tuple(t.get("examples", ())) if _strings(t.get("examples", [])) else ()
        negatives = tuple(t.get("negatives", ())) if _strings(t.get("negatives", [])) else ()
        signals = tuple(t.get("signals", ())) if _strings(t.get("signals", [])) else ()
        if not phrases and not examples:
            err("examples", "an intent needs examples (or phrases, which are examples too)")
        both = sorted(set(phrases + examples) & set(negatives))
        if both:
            err("negatives", f"«{both[0]}» is both an example and a negative")
        specs.append(IntentSpec(name, speaker if speaker in SPEAKERS else "agent",
                                tuple(t.get("overlaps", ())) if _strings(t.get("overlaps", [])) else (),
                                bool(t.get("stem_phrases", True)), phrases, examples, negatives,
                                _thresholds(t.get("thresholds", {}), err), line, signals,
                                float(precision) if precision is not None else None))
    names = {s.name for s in specs}
    for s in specs:
        for o in s.overlaps:
            if o not in names:
                problems.append(f"{path}:{_key_line(text, s.line, 'overlaps')}: intent '{s.name}': "
                                f"overlaps names no intent '{o}'")
    talk = raw.get("talk", {})
    if not isinstance(talk, dict) or not all(k in SPEAKERS and _strings(v) for k, v in talk.items()):
        problems.append(f"{path}:{_table_line(text, '[talk]')}: [talk] holds agent = [...] and customer = [...] "
                        "lists of plain sentences")
        talk = {}
    embedder = meta.get("embedder", "e5+use")
    if embedder not in EMBEDDERS:
        problems.append(f"{path}:{_key_line(text, _table_line(text, '[pack]'), 'embedder')}: [pack] embedder must be "
                        f"one of {', '.join(EMBEDDERS)}, got {embedder!r}")
        embedder = "e5+use"
    learn = meta.get("learn_from", [])
    if not _strings(learn):
        problems.append(f"{path}:{_key_line(text, _table_line(text, '[pack]'), 'learn_from')}: [pack] learn_from must be "
                        "a list of pack files")
        learn = []
    learned = tuple(_beside_or_bundled(path, p, bundled) for p in learn)
    for p in learned:
        if not p.is_file():
            problems.append(f"{path}:{_key_line(text, _table_line(text, '[pack]'), 'learn_from')}: [pack] learn_from: "
                            f"{p} not found")
    return PackIntents(tuple(specs), {k: tuple(v) for k, v in talk.items()}, embedder, learned), problems


def _beside_or_bundled(path: Path, name: str, bundled: Path | None) -> Path:
    here = (path.parent / name).resolve()
    if here.is_file() or bundled is None or Path(name).is_absolute() or not (bundled / name).is_file():
        return here
    return (bundled / name).resolve()


def write_thresholds(text: str, name: str, embedder: str, t: Thresholds) -> str:
    """The pack's text with intent `name`'s thresholds for `embedder` set to `t`, all else kept
    (comments, order): the line is replaced where it is, else added at the end of the table."""
    line = (f'thresholds."{embedder}" = {{ threshold = {t.threshold:.4f}, margin = {t.margin:.3f}, '
            f'doubt = {t.doubt:.3f} }}')
    lines = text.splitlines()
    head = next((i for i, x in enumerate(lines) if x.strip() == f"[intent.{name}]"), None)
    if head is None:
        raise ValueError(f"no [intent.{name}] table")
    end = next((i for i in range(head + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    key = re.compile(rf'\s*thresholds\."{re.escape(embedder)}"\s*=')
    for i in range(head + 1, end):
        if key.match(lines[i]):
            lines[i] = line
            break
    else:
        at = end
        while at > head + 1 and not lines[at - 1].strip():
            at -= 1
        lines.insert(at, line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
