"""What a rule kind is: its parameters, how they are checked and compiled, how it judges a call's
timeline, when a mono mix cannot bear its fail, and what it tells the live view during a listen-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from callaudit.analysis.findings import Company, Finding
    from callaudit.analysis.rulepack import Rule
    from callaudit.analysis.timeline import Timeline

REQUIRED = object()  # a parameter's default when the pack must give it
PHRASES = list       # a parameter holding phrases (compiled for the pack's language)
SPEAKERS = ("agent", "customer")
Problems = list[tuple[str, str]]  # (the key at fault, why) for `file:line: reason` lines


def _no_problems(params: dict[str, Any]) -> Problems:
    return []


def _nothing_compiled(params: dict[str, Any], language: str) -> dict[str, Any]:
    return {}


def _no_doubt(finding: "Finding", contested: tuple[float, ...]) -> str | None:
    return None


def _no_hint(rule: "Rule") -> dict[str, Any]:
    return {}


def _no_intents(params: dict[str, Any]) -> list[tuple[str, str, str]]:
    return []


@dataclass(frozen=True)
class Kind:
    name: str
    params: dict[str, tuple[type, Any]]   # parameter -> (type, default or REQUIRED)
    judge: Callable[["Rule", "Timeline", "Company"], "Finding"]
    check: Callable[[dict[str, Any]], Problems] = _no_problems
    compile: Callable[[dict[str, Any], str], dict[str, Any]] = _nothing_compiled
    role_bound: bool = True               # judged only when agent and customer are known
    needs_measured_overlap: bool = False  # not judged where a mono mix cannot measure overlaps
    # On a mono mix, why a fail cannot be given where both parties talked at once (None: it can).
    mono_doubt: Callable[["Finding", tuple[float, ...]], str | None] = _no_doubt
    live: Callable[["Rule"], dict[str, Any]] = _no_hint  # LiveRules fields this rule sets
    # (parameter, intent name, whose intent it must be or "") for each intent the rule names: the
    # pack checks they exist when it loads. A kind that names any is judged on meaning.
    intents: Callable[[dict[str, Any]], list[tuple[str, str, str]]] = _no_intents
    # Judged across calls (when requests' statuses are recomputed), never inside one call's verdict.
    cross_call: bool = False


def check_speakers(params: dict[str, Any], *keys: str) -> Problems:
    return [(k, f"{k} must be agent or customer, got {params[k]!r}")
            for k in keys if k in params and params[k] not in SPEAKERS]


def check_phrases(params: dict[str, Any], *keys: str) -> Problems:
    return [(k, f"{k} must be a list of non-empty strings") for k in keys
            if k in params and not all(isinstance(p, str) and p.strip() for p in params[k])]
