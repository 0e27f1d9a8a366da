"""The requests pack: how a customer's request, an agent's commitment, "it is done", "it is confirmed" and
"nobody came / called back" are recognised in one language, and the topics requests are about.

A TOML file per language (rules/requests/requests.<lang>.toml by default, [requests] pack to name
another). Each `[intent.NAME]` is a text.intents.Intent: speaker, example utterances, hard negatives,
phrases, the intents it may share a sentence with, and its threshold, margin and doubt band per
embedder (`thresholds."e5+use" = {...}`). `[background]` holds plain talk of each speaker (no intent):
the judge learns from it what is none of them. `[topic.ID]` names a topic (a title and phrases, matched
on word stems like the rule packs' phrases): "no-connection", "billing"... A topic links a repeat call to
an earlier request, and the topics listed in [requests] problem_topics count as service problems.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from callaudit.analysis.paths import rules_dir
from callaudit.errors import CallauditError

if TYPE_CHECKING:  # imported where a pack is loaded: reading its topic titles needs neither (numpy, stemmers)
    from callaudit.text.intents import Intent
    from callaudit.text.matching import Phrases

# The intents the requests extraction reads, and whose words they are.
INTENTS = {"request": "customer", "not_done": "customer", "confirmed": "customer",
           "commitment": "agent", "done": "agent"}
_INTENT_KEYS = {"speaker", "examples", "negatives", "phrases", "stem_phrases", "overlaps", "threshold", "margin",
                "doubt", "thresholds"}


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    phrases: Phrases


@dataclass(frozen=True)
class RequestPack:
    path: Path
    language: str
    version: str
    sha256: str
    intents: tuple[Intent, ...]
    background: dict[str, tuple[str, ...]]
    topics: tuple[Topic, ...]

    @property
    def version_tag(self) -> str:
        return f"requests@{self.version}+{self.sha256[:8]}"

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)


def default_pack_path(language: str) -> Path:
    """The default requests pack of a language, beside the default rule packs (a wheel carries a copy)."""
    return rules_dir() / "requests" / f"requests.{language if language in ('ru', 'en') else 'ru'}.toml"


def _read(path: Path) -> tuple[str, dict]:
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise CallauditError(f"requests pack {path} not found: check [requests] pack") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CallauditError(f"requests pack {path}: invalid TOML: {e}") from None


def topic_titles(path: str | Path) -> dict[str, str]:
    """topic id -> title, as `load` reads them, without building the pack (what a report shows of it)."""
    _, raw = _read(Path(path))
    return {tid: str(t.get("title", tid)) for tid, t in raw.get("topic", {}).items()}


def _strings(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CallauditError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def load(path: str | Path, embedder: str = "e5+use") -> RequestPack:
    """Load and check a requests pack; one CallauditError naming the file and the key at fault."""
    from callaudit.text.intents import Intent
    from callaudit.text.matching import compile_phrases

    path = Path(path)
    text, raw = _read(path)
    meta = raw.get("pack", {})
    language, version = meta.get("language"), meta.get("version")
    if language not in ("ru", "en") or not isinstance(version, str) or not version:
        raise CallauditError(f"{path}: [pack] needs language (ru or en) and version")
    intents = []
    table = raw.get("intent", {})
    for name, speaker in INTENTS.items():
        it = table.get(name)
        where = f"{path}: [intent.{name}]"
        if not isinstance(it, dict):
            raise CallauditError(f"{where} is missing: a requests pack defines {', '.join(INTENTS)}")
        unknown = set(it) - _INTENT_KEYS
        if unknown:
            raise CallauditError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        if it.get("speaker", speaker) != speaker:
            raise CallauditError(f"{where}: speaker must be {speaker}")
        tuned = {"threshold": it.get("threshold", 0.0), "margin": it.get("margin", 0.0), "doubt": it.get("doubt", 0.3)}
        tuned.update((it.get("thresholds") or {}).get(embedder, {}))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in tuned.values()):
            raise CallauditError(f"{where}: threshold, margin and doubt must be numbers")
        intents.append(Intent(name, language, _strings(it.get("examples", []), f"{where} examples"),
                              _strings(it.get("negatives", []), f"{where} negatives") if it.get("negatives") else (),
                              _strings(it.get("phrases", []), f"{where} phrases") if it.get("phrases") else (),
                              bool(it.get("stem_phrases", True)), speaker,
                              tuple(o for o in it.get("overlaps", ()) if o in INTENTS),
                              float(tuned["threshold"]), float(tuned["margin"]), float(tuned["doubt"])))
    background = {sp: _strings(v, f"{path}: [background] {sp}") for sp, v in raw.get("background", {}).items()}
    topics = []
    for tid, t in raw.get("topic", {}).items():
        where = f"{path}: [topic.{tid}]"
        phrases = _strings(t.get("phrases", []), f"{where} phrases")
        topics.append(Topic(tid, str(t.get("title", tid)), compile_phrases(list(phrases), language)))
    return RequestPack(path, language, version, hashlib.sha256(text.encode()).hexdigest(), tuple(intents),
                       background, tuple(topics))
