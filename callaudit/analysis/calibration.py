"""Calibrating a pack's intents: thresholds from the tuning part of a labelled set, figures from its
evaluation part (text/calibrate.py does the work; this module speaks packs).

The pack is the whole truth of its judge: its examples already hold the tuning utterances that
seeded it. Calibration therefore takes the pack's intents *without* those utterances as its seeds
and lets text.calibrate add them back fold by fold (five-fold cross-validation: no utterance is
scored by a judge that learnt it), so that the thresholds are set on honest scores, and the judge
they end up on is exactly the pack's. Tuning utterances the pack does not hold are left out (and
counted): a threshold set for a judge that knows them would not fit the pack's. The evaluation
part is never in a pack (`rules lint` refuses one that holds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callaudit.analysis import intentpack
from callaudit.analysis.intentpack import Thresholds
from callaudit.analysis.paths import rules_dir
from callaudit.analysis.rulepack import RulePack
from callaudit.errors import CallauditError
from callaudit.text import calibrate as textcal
from callaudit.text.embeddings import Embedder
from callaudit.text.intents import VectorCache


def default_data() -> Path:
    """The labelled paraphrase set of a checkout (tests/data/paraphrases.jsonl)."""
    return rules_dir().parent / "tests" / "data" / "paraphrases.jsonl"


def pack_texts(pack: RulePack) -> set[str]:
    """Every sentence a pack's judge learns from: examples, negatives, plain talk."""
    m = pack.meaning
    return ({t for s in m.intents for t in (*s.all_examples, *s.negatives)}
            | {t for texts in m.talk.values() for t in texts})


def seeds(packs: list[RulePack], tuning: list[textcal.Utterance]) -> dict:
    """The packs' intents as text.calibrate's seeds: one [[intent]] per name, a part per language,
    without the tuning utterances (calibration adds those back, fold by fold). Plain talk that is
    not in the tuning part becomes negatives of the speaker's first intent: rows with no intent,
    exactly as [talk] is."""
    out: dict[str, dict] = {}
    for pack in packs:
        held = {u.text for u in tuning if u.lang == pack.language}
        first: dict[str, str] = {}
        for s in pack.meaning.intents:
            first.setdefault(s.speaker, s.name)
            entry = out.setdefault(s.name, {"name": s.name, "speaker": s.speaker, "overlaps": list(s.overlaps),
                                            "stem_phrases": s.stem_phrases})
            entry[pack.language] = {"phrases": list(s.phrases),
                                    "examples": [t for t in s.examples if t not in held],
                                    "negatives": [t for t in s.negatives if t not in held]}
        for speaker, texts in pack.meaning.talk.items():
            extra = [t for t in texts if t not in held]
            if extra and speaker in first:
                out[first[speaker]][pack.language]["negatives"] += extra
    return {"intent": list(out.values())}


@dataclass
class PackCalibration:
    """Calibrated thresholds for the packs, the figures, and what the labelled set held that the
    packs did not."""

    packs: list[RulePack]
    result: textcal.Calibration
    left_out: dict[str, int]   # language -> tuning utterances not in its pack (not used)

    def thresholds(self, pack: RulePack) -> dict[str, Thresholds]:
        return {i.name: Thresholds(i.threshold, i.margin, i.doubt) for i in self.result.intents[pack.language]}


def with_learned(packs: list[RulePack]) -> list[RulePack]:
    """The packs and the packs they learn from (their thresholds are calibrated together)."""
    from callaudit.analysis.rulepack import load

    out = {p.path.resolve(): p for p in packs}
    for p in list(out.values()):
        for q in p.meaning.learn_from:
            if q.resolve() not in out:
                out[q.resolve()] = load(q)
    return list(out.values())


def calibrate(packs: list[RulePack], data: Path, embedder: Embedder, cache: VectorCache | None = None,
              target_precision: float = textcal.TARGET_PRECISION) -> PackCalibration:
    """Calibrate the intents of `packs` (one per language) on the labelled set `data`."""
    packs = with_learned(packs)
    langs = [p.language for p in packs]
    if len(set(langs)) != len(langs):
        raise CallauditError(f"calibrate one pack per language, got {', '.join(str(p.path) for p in packs)}")
    names = [set(p.meaning.names) for p in packs]
    if any(n != names[0] for n in names):
        raise CallauditError("packs that learn from each other must define the same intents")
    try:
        utterances = textcal.load_utterances(data)
    except (OSError, ValueError) as exc:
        raise CallauditError(f"labelled set {data}: {exc}") from None
    by_lang = {p.language: p for p in packs}
    kept, left = [], {lang: 0 for lang in langs}
    for u in utterances:
        if u.lang not in by_lang or u.speaker not in ("agent", "customer"):
            continue
        if u.split == "tune" and u.text not in pack_texts(by_lang[u.lang]):
            left[u.lang] += 1
            continue
        kept.append(u)
    if not any(u.split == "eval" for u in kept):
        raise CallauditError(f"labelled set {data} has no evaluation part for {', '.join(langs)}")
    tuning = [u for u in kept if u.split == "tune"]
    pooled = any(p.meaning.learn_from for p in packs) and len(packs) > 1
    targets = {s.name: s.precision for p in packs for s in p.meaning.intents if s.precision is not None}
    cal = textcal.calibrate(seeds(packs, tuning), kept, embedder, target_precision=target_precision,
                            pool=pooled, cache=cache, targets=targets)
    return PackCalibration(packs, cal, left)


def write(pack: RulePack, thresholds: dict[str, Thresholds], embedder: str) -> str:
    """The pack file's new text with these thresholds for `embedder` (written by the caller)."""
    text = pack.path.read_text(encoding="utf-8")
    for name, t in thresholds.items():
        text = intentpack.write_thresholds(text, name, embedder, t)
    return text
