"""What was meant: a pack's intents, ready to judge the sentences of a call.

`meaning_for(pack)` builds the pack's IntentSet once per process, pack and embedder (the embedder
itself loads once per process: text.embeddings.load is cached), with one thread beside Whisper.
`PackMeaning.call(transcript)` then judges a call lazily: the first rule that asks about one
speaker's intents embeds all of that speaker's sentences in one batch, and every later question
is answered from memory. So a call costs one embedding per sentence, whatever the number of
rules that read it.

A sentence's verdict for an intent comes in two readings:
- `judged`: the judge alone (its score, threshold, margin and doubt band) — what a fail may rest on;
- `heard`: the judge, or an exact phrase (or signal) of the intent: a phrase resolves the judge's
  doubt into a match, and where the judge is clearly against it the phrase still leaves a doubt —
  a sentence that holds the words the pack lists is never "clearly not" that intent. What a
  required intent may pass on, and what keeps it from failing.
A rule never fails anyone on a phrase alone (see kinds/intent_forbidden.py).

The pack's own sentences are authoritative: a sentence that is (normalised) one of an intent's
examples matches it, one of its negatives does not, whatever the judge's regularised fit says.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from callaudit.analysis import intentpack
from callaudit.errors import CallauditError
from callaudit.text import embeddings
from callaudit.text.intents import MATCH, NONE, PHRASE_GUARD, UNSURE, IntentMatch, IntentSet, Row, VectorCache
from callaudit.text.matching import normalise
from callaudit.text.sentences import Sentence, split
from callaudit.transcript.records import Transcript, Turn

if TYPE_CHECKING:
    from callaudit.analysis.rulepack import RulePack

ORDER = {MATCH: 2, UNSURE: 1, NONE: 0}
THREADS = 1  # beside Whisper's: the embedder must not take the cores the transcriber uses


def cache_folder() -> Path | None:
    """Where example vectors are kept between runs ($XDG_CACHE_HOME/callaudit/vectors), or None
    when that cannot be written (then they live in memory only: slower, never wrong)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "callaudit" / "vectors"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return None
    return folder


@lru_cache(maxsize=1)
def _vector_cache() -> VectorCache:
    return VectorCache(cache_folder())


@dataclass(frozen=True)
class SentenceMeaning:
    """One sentence of a turn and its verdict for each intent of its speaker."""

    sentence: Sentence
    judged: dict[str, IntentMatch]   # the judge alone
    heard: dict[str, IntentMatch]    # the judge or a guarded phrase hit
    phrase: dict[str, str | None]    # the intent's exact phrase found in it, if any


def judged_speaker(speaker: str) -> str:
    """Whose intents a turn is judged against: a mono call's unnamed voices as the agent's (a hold
    or a greeting is nearly always the agent's, and they are only cues there)."""
    return speaker if speaker in ("agent", "customer") else "agent"


def learned_rows(path: Path) -> tuple[Row, ...]:
    """Training rows from another pack (`[pack] learn_from`): its intents' examples, labelled, and
    its negatives and plain talk, unlabelled. Its own learn_from is not followed."""
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    meaning, problems = intentpack.load(raw, text, path, {**raw.get("pack", {}), "learn_from": []})
    if problems:
        raise CallauditError(f"{problems[0]} (a pack this pack learns from)")
    rows = [Row(t, s.speaker, frozenset({s.name})) for s in meaning.intents for t in s.all_examples]
    rows += [Row(t, s.speaker, frozenset()) for s in meaning.intents for t in s.negatives]
    rows += [Row(t, sp, frozenset()) for sp, texts in meaning.talk.items() for t in texts]
    return tuple(rows)


def _claimed(judged: dict[str, IntentMatch]) -> dict[str, IntentMatch]:
    """A doubt the judge resolves itself: a sentence unsure for one intent whose nearest rival it
    clearly matches (over the rival's threshold and clear of the rival's own rivals by its margin)
    is that rival, not this intent. «Thank you for your patience» scores within closing's doubt
    band, and is a sure return from hold."""
    out = dict(judged)
    for n, m in judged.items():
        r = judged.get(m.runner_up)
        if (m.status == UNSURE and m.via == "judge" and r is not None and r.status == MATCH
                and r.via in ("judge", "example")):
            out[n] = dataclasses.replace(m, status=NONE, via="rival")
    return out


class PackMeaning:
    """A pack's intents judged with one embedder. `unavailable` says why they cannot be (the pack
    has no thresholds for this embedder); rules on intents are then not evaluated."""

    def __init__(self, pack: "RulePack", embedder: embeddings.Embedder, cache: VectorCache | None = None):
        self.pack, self.embedder = pack, embedder
        specs = pack.meaning.intents
        missing = [s.name for s in specs if embedder.name not in s.thresholds]
        self.unavailable = (f"the pack has no thresholds for embedder '{embedder.name}' (intents "
                            f"{', '.join(missing)}): run `callaudit rules calibrate --embedder {embedder.name} "
                            f"--write`") if missing else None
        self.iset: IntentSet | None = None
        self._examples = {s.name: {normalise(t) for t in s.all_examples} for s in specs}
        self._negatives = {s.name: {normalise(t) for t in s.negatives} for s in specs}
        if specs and not missing:
            borrowed = tuple(r for p in pack.meaning.learn_from for r in learned_rows(p))
            self.iset = IntentSet([s.intent(pack.language, embedder.name) for s in specs], embedder,
                                  background=dict(pack.meaning.talk), borrowed=borrowed,
                                  cache=cache or _vector_cache())

    @property
    def name(self) -> str:
        """The embedder's name, recorded with every verdict (thresholds differ per embedder)."""
        return self.embedder.name

    def call(self, tx: Transcript) -> "CallMeaning":
        return CallMeaning(self, tx)

    def sentences(self, turns: list[Turn], speaker: str) -> list[list[SentenceMeaning]]:
        """Every sentence of `turns` judged against `speaker`'s intents, in one batch."""
        if self.iset is None:
            return [[] for _ in turns]
        cut = [split([w.text for w in t.words] if t.words else t.text.split()) for t in turns]
        flat = [s for ss in cut for s in ss]
        evs = self.iset.evidence([s.text for s in flat], speaker) if flat else []
        out, k = [], 0
        for ss in cut:
            mine = []
            for s in ss:
                ev = evs[k]
                k += 1
                judged = _claimed({n: self._judged(n, e, s) for n, e in ev.items()})
                mine.append(SentenceMeaning(s, judged, {n: self._heard(judged[n], e) for n, e in ev.items()},
                                            {n: e.phrase for n, e in ev.items()}))
            out.append(mine)
        return out

    def _judged(self, name: str, ev, s: Sentence) -> IntentMatch:
        m = self.iset.decide(name, ev, s, use_phrases=False)
        said = normalise(s.text)
        if said in self._negatives.get(name, ()):
            return dataclasses.replace(m, status=NONE, via="negative", example=s.text)
        if said in self._examples.get(name, ()):
            return dataclasses.replace(m, status=MATCH, via="example", example=s.text)
        return m

    def _heard(self, m: IntentMatch, ev) -> IntentMatch:
        if ev.phrase is None or m.status == MATCH or m.via == "negative":
            return m
        if m.status == UNSURE or m.score >= m.threshold - PHRASE_GUARD:
            return dataclasses.replace(m, status=MATCH, via="phrase", example=ev.phrase)
        return dataclasses.replace(m, status=UNSURE, via="phrase against the judge", example=ev.phrase)

    def says(self, text: str, name: str) -> IntentMatch | None:
        """The sentence of `text` (a whole turn's text) that holds intent `name`, or None: for the
        role cues of a mono call, where only a clear match counts."""
        return _says(self, text, name)


@lru_cache(maxsize=4096)
def _says(pm: PackMeaning, text: str, name: str) -> IntentMatch | None:
    spec = pm.pack.meaning.get(name)
    if spec is None or pm.iset is None:
        return None
    turn = Turn(spec.speaker, 0.0, 0.0, text, (), 0.0)
    for sm in pm.sentences([turn], spec.speaker)[0]:
        m = sm.heard.get(name)
        if m is not None and m.status == MATCH:
            return m
    return None


class CallMeaning:
    """One call's sentences, judged on first use and kept."""

    def __init__(self, pm: PackMeaning, tx: Transcript):
        self.pm, self.tx = pm, tx
        self._done: dict[Turn, list[SentenceMeaning]] = {}

    @property
    def unavailable(self) -> str | None:
        return self.pm.unavailable

    @property
    def embedder(self) -> str:
        return self.pm.name

    def evidence(self, turn: Turn, m: IntentMatch) -> dict:
        """Evidence for a verdict on meaning: the sentence with its words' times, the intent, the
        score against its threshold and doubt band, the nearest example and the rival intent."""
        ws = turn.words[m.first:m.last + 1] if turn.words else ()
        start = round(max(turn.start, ws[0].start), 3) if ws else turn.start
        end = round(min(turn.end, ws[-1].end), 3) if ws else turn.end
        it = self.pm.iset.intents[m.intent] if self.pm.iset else None
        return {"speaker": turn.speaker, "quote": m.sentence, "start": start, "end": end,
                "intent": m.intent, "status": m.status, "via": m.via, "score": m.score,
                "threshold": m.threshold, "doubt_below": round(m.threshold - (it.doubt if it else 0.0), 4),
                "example": m.example, "similarity": m.similarity, "runner_up": m.runner_up,
                "runner_up_score": m.runner_up_score, "embedder": self.embedder}

    def of(self, turn: Turn) -> list[SentenceMeaning]:
        """The sentences of one turn of this call, with their verdicts."""
        if turn not in self._done:
            speaker = judged_speaker(turn.speaker)
            todo = [t for t in self.tx.turns if judged_speaker(t.speaker) == speaker and t not in self._done]
            if turn not in todo:
                todo.append(turn)  # a turn from elsewhere (a rule example built apart)
            for t, sms in zip(todo, self.pm.sentences(todo, speaker)):
                self._done[t] = sms
        return self._done[turn]


@dataclass(frozen=True)
class Found:
    """The best sentence for a group of intents over some turns: `status` match / unsure / none."""

    status: str
    turn: Turn | None
    match: IntentMatch | None

    @property
    def sure(self) -> bool:
        return self.status == MATCH


def best(cm: CallMeaning, turns: list[Turn], names: tuple[str, ...] | list[str], reading: str = "heard") -> Found:
    """The strongest sentence of `turns` for any intent of `names`: a match before an unsure, and
    among those the highest score above its threshold."""
    top: tuple | None = None
    for t in turns:
        for sm in cm.of(t):
            for n in names:
                m = getattr(sm, reading).get(n)
                if m is None:
                    continue
                key = (ORDER[m.status], m.score - m.threshold)
                if top is None or key > top[0]:
                    top = (key, t, m)
    if top is None:
        return Found(NONE, None, None)
    return Found(top[2].status, top[1], top[2])


def describe(m: IntentMatch) -> str:
    """One line for a finding's detail: «sentence» is / may be / is not INTENT, and why."""
    verb = {MATCH: "is", UNSURE: "may be", NONE: "is not"}[m.status]
    score = f"score {m.score:+.2f}, threshold {m.threshold:+.2f}"
    how = {"judge": f"{score}; nearest example «{m.example}»",
           "phrase": f"it holds «{m.example}»; {score}",
           "example": "it is one of the pack's examples",
           "negative": "it is one of the pack's negatives",
           "phrase against the judge": f"it holds «{m.example}», but the judge reads otherwise: {score}",
           "rival": f"{score}; it is clearly {m.runner_up.replace('_', ' ')} (score {m.runner_up_score:+.2f})",
           }.get(m.via) or f"{score}, but it names a {m.via}"
    return f"«{m.sentence}» {verb} {m.intent.replace('_', ' ')} ({how})"


_BUILT: dict[tuple[Path, str, str], PackMeaning] = {}


def meaning_for(pack: "RulePack", embedder: str | None = None) -> PackMeaning | None:
    """The pack's intents with the embedder named (default: the pack's own, or `use` where that
    cannot run); built once per process. None for a pack without intents.

    Raises EmbedderError (one line) when no embedder can be loaded."""
    if not pack.meaning.intents:
        return None
    name = embedder or pack.meaning.embedder
    key = (pack.path, pack.sha256, name)
    if key not in _BUILT:
        _BUILT[key] = PackMeaning(pack, embeddings.load_any(name, THREADS))
    return _BUILT[key]
