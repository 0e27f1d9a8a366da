"""Proving and linting a pack's intents.

- `proofs`: the pack's own examples, judged by the judge alone (at run time a sentence that is one
  of the pack's examples or negatives decides itself): an example the judge fails outright, or a
  negative it matches, is one the judge has not learnt — sentences like it may go wrong.
- `warnings`: two rival intents (same speaker, not declared overlapping) whose examples are
  closer than their thresholds allow: an example of one that, judged by a judge that never saw
  it (five folds), reaches the other's threshold. Such an example makes both intents' verdicts
  on sentences like it a matter of chance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from callaudit.analysis.meaning import PackMeaning, learned_rows
from callaudit.analysis.rulepack import RulePack
from callaudit.text.intents import MATCH, NONE, Intent, IntentSet
from callaudit.text.sentences import Sentence

FOLDS = 5


@dataclass(frozen=True)
class Proof:
    intent: str
    text: str
    expect: str      # "example" | "negative"
    status: str      # what the judge said
    score: float
    threshold: float
    line: int

    @property
    def ok(self) -> bool:
        return self.status != NONE if self.expect == "example" else self.status != MATCH


def _line(pack: RulePack, start: int, text: str) -> int:
    """The line of `text` inside the intent table that starts at `start` (1-based)."""
    lines = pack.path.read_text(encoding="utf-8").splitlines()
    needle = f'"{text}"'
    for i in range(max(0, start - 1), len(lines)):
        if needle in lines[i]:
            return i + 1
    return start


def proofs(pack: RulePack, pm: PackMeaning) -> list[Proof]:
    """Each example and negative of each intent, judged by the pack's own judge."""
    if pm.iset is None:
        return []
    out = []
    for s in pack.meaning.intents:
        items = [(t, "example") for t in s.all_examples] + [(t, "negative") for t in s.negatives]
        evs = pm.iset.evidence([t for t, _ in items], s.speaker)
        for (text, expect), ev in zip(items, evs):
            use_phrases = expect == "example"
            m = pm.iset.decide(s.name, ev[s.name], Sentence(text, 0, 0), use_phrases=use_phrases)
            out.append(Proof(s.name, text, expect, m.status, m.score, m.threshold, _line(pack, s.line, text)))
    return out


def _fold(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % FOLDS


def warnings(pack: RulePack, pm: PackMeaning) -> list[str]:
    """`file:line: warning: …` for each example that reaches a rival intent's threshold."""
    if pm.iset is None:
        return []
    full = pm.iset
    out: list[str] = []
    specs = pack.meaning.intents
    borrowed = tuple(r for p in pack.meaning.learn_from for r in learned_rows(p))
    for f in range(FOLDS):
        kept = [Intent(i.name, i.language, tuple(t for t in i.examples if _fold(t) != f), i.negatives, i.phrases,
                       i.stem_phrases, i.speaker, i.overlaps, i.threshold, i.margin, i.doubt)
                for i in full.intents.values()]
        iset = IntentSet(kept, full.embedder, background=dict(pack.meaning.talk), borrowed=borrowed,
                         cache=full.cache)
        for s in specs:
            held = [t for t in s.all_examples if _fold(t) == f]
            if not held:
                continue
            rivals = full.rivals(s.name)
            for text, ev in zip(held, iset.evidence(held, s.speaker)):
                for r in rivals:
                    it = full.intents[r]
                    if ev[r].score >= it.threshold and ev[r].score > ev[s.name].score:
                        out.append(f"{pack.path}:{_line(pack, s.line, text)}: warning: intent '{s.name}': example "
                                   f"«{text}» reaches rival '{r}' (score {ev[r].score:+.2f} >= its threshold "
                                   f"{it.threshold:+.2f}, above its own {ev[s.name].score:+.2f}): the two are closer "
                                   f"than their thresholds allow; reword it, move it, or declare them overlaps")
    return list(dict.fromkeys(out))
