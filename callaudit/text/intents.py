"""Intents: what a sentence means, judged from example utterances, with the evidence for each verdict.

An intent (greeting, hold announcement, brush-off, ...) is a name, example utterances, hard
negatives (sentences that look alike but mean something else), exact phrases, a threshold, a
margin and a doubt band. The intents of one speaker are judged together by a linear judge fitted
on their examples (ridge regression, one score per intent, refitted from the examples whenever
the set is built: nothing learned is stored, the pack's examples are the whole truth). It reads
two views of a sentence (text.features): its sentence embedding and its words (lemmas, lemma
pairs, each verb with its doer). A sentence *matches* an intent when
- one of the intent's phrases is found in it (the fuzzy phrase match of text.matching, over
  lemmas, or over plain words where inflection carries the meaning), or
- its score reaches the intent's threshold AND beats every rival intent's score by the margin
  (a rival: an intent of the same speaker not declared in `overlaps`, i.e. not one that may be
  said in the same breath).
It is *unsure* when it falls short of that but its score is within `doubt` of the threshold: a
rule must then say "not evaluated", and name the sentence a person should hear.

The evidence names the nearest example (cosine of the embeddings, an example that uses the same
verb with another doer counted `actor_penalty` less similar: «перезвоните позже» is not the
nearest example for «я перезвоню позже»), the score, the runner-up intent and its score.

Example vectors are computed once per (embedder weights, text) and kept in memory, and on disk
when a cache folder is given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callaudit.text import features as fx
from callaudit.text import lemmas as lx
from callaudit.text.embeddings import Embedder
from callaudit.text.matching import Phrase, Phrases, find, stems
from callaudit.text.sentences import Sentence, after_salutation, clauses, split

MATCH, UNSURE, NONE = "match", "unsure", "none"
ACTOR_PENALTY = 0.08  # larger than the e5 gap between a paraphrase and a near-miss
PHRASE_FUZZY = 90.0
# A phrase found counts when the judge is not clearly against it (its score within this of the
# threshold): "hello" in "say hello to the technician" is found, and outvoted.
PHRASE_GUARD = 0.3
RIDGE = 0.003         # measured on the tuning part (0.001-0.03 tried): relative to the rows' count


@dataclass(frozen=True)
class Intent:
    """One meaning a rule looks for, in one language."""

    name: str
    language: str
    examples: tuple[str, ...]
    negatives: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    stem_phrases: bool = True       # False where inflection carries the meaning (brush-offs)
    speaker: str | None = None      # "agent" / "customer": judged with the same speaker's intents
    overlaps: tuple[str, ...] = ()  # intents that may share a sentence with this one: not rivals
    threshold: float = 0.0          # on the judge's score: +1 is "like the examples", -1 "unlike"
    margin: float = 0.0
    doubt: float = 0.3


@dataclass(frozen=True)
class IntentMatch:
    """The verdict on one sentence for one intent, and everything a reviewer needs to check it."""

    intent: str
    status: str                 # "match" | "unsure" | "none"
    sentence: str
    first: int                  # word indices in the turn (inclusive)
    last: int
    score: float                # the judge's score for this intent
    threshold: float
    margin: float
    similarity: float           # cosine to the nearest example (after the verb check)
    example: str                # that example (or the phrase found)
    runner_up: str              # the rival intent that scored highest ("" if none)
    runner_up_score: float
    via: str                    # "phrase" | "judge"


@dataclass(frozen=True)
class Evidence:
    """Raw scores of one sentence against one intent (before its threshold is applied)."""

    score: float
    similarity: float
    example: str
    rival: str
    rival_score: float
    phrase: str | None          # the phrase found, if any


class VectorCache:
    """Vectors of example texts by embedder digest; optionally kept in a folder between runs."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self._mem: dict[tuple[str, str], np.ndarray] = {}

    def vectors(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        """Vectors for `texts` (rows in order), computing only the ones not seen before."""
        self._load(embedder)
        todo = sorted({t for t in texts if (embedder.digest, t) not in self._mem})
        if todo:
            for t, v in zip(todo, embedder.encode(todo)):
                self._mem[(embedder.digest, t)] = v
            self._save(embedder)
        if not texts:
            return np.zeros((0, embedder.dim), np.float32)
        return np.stack([self._mem[(embedder.digest, t)] for t in texts])

    def _file(self, embedder: Embedder) -> Path | None:
        return self.folder / f"vectors-{embedder.digest}.npz" if self.folder else None

    def _load(self, embedder: Embedder) -> None:
        path = self._file(embedder)
        if path is None or not path.is_file() or any(k[0] == embedder.digest for k in self._mem):
            return
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["digest"]) != embedder.digest:
                    return
                for t, v in zip(z["texts"].tolist(), z["vectors"]):
                    self._mem[(embedder.digest, t)] = v
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is only slower: the vectors are computed again

    def _save(self, embedder: Embedder) -> None:
        path = self._file(embedder)
        if path is None:
            return
        mine = [(k[1], v) for k, v in self._mem.items() if k[0] == embedder.digest]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, digest=np.array(embedder.digest), texts=np.array([t for t, _ in mine]),
                 vectors=np.stack([v for _, v in mine]))
        tmp.replace(path)  # atomic: a killed run never leaves half a cache


SHARED_CACHE = VectorCache()


@dataclass(frozen=True)
class Row:
    """One training sentence of a judge: its text, speaker and the intents it expresses."""

    text: str
    speaker: str | None
    labels: frozenset[str]


def rows_of(intents: list[Intent], background: dict[str | None, tuple[str, ...]] | None = None) -> list[Row]:
    """The training sentences of a set: examples (labelled), hard negatives and plain talk (unlabelled)."""
    labels: dict[tuple[str, str | None], set[str]] = {}
    for it in intents:
        for t in it.examples:
            labels.setdefault((t, it.speaker), set()).add(it.name)
    for it in intents:
        for t in it.negatives:
            labels.setdefault((t, it.speaker), set()).discard(it.name)
    for speaker, texts in (background or {}).items():
        for t in texts:
            labels.setdefault((t, speaker), set())
    return [Row(t, sp, frozenset(ls)) for (t, sp), ls in labels.items()]


class _Judge:
    """Ridge regression of one speaker's intents, fitted in its dual form (rows << features)."""

    def __init__(self, names: list[str], vecs: np.ndarray, bags: list[frozenset[str]],
                 labels: list[frozenset[str]], lam: float, lexical_weight: float,
                 blocks: tuple[int, ...] = ()):
        self.names, self.lexical_weight = names, lexical_weight
        self.mean = vecs.mean(axis=0)
        # Centred, e5's vectors are short (its cosines sit in 0.80-0.97) and the lexical bag
        # outweighed them: each embedder's block is scaled to unit mean length over the
        # training rows, so that meaning and words weigh as lexical_weight says (measured on
        # the tuning part: mean average precision 0.946 -> 0.955).
        self.scale = np.ones(vecs.shape[1], np.float32)
        start = 0
        for size in blocks or (vecs.shape[1],):
            part = vecs[:, start:start + size] - self.mean[start:start + size]
            rms = float(np.sqrt((part * part).sum(axis=1).mean())) if len(part) else 1.0
            self.scale[start:start + size] = 1.0 / max(rms, 1e-6)
            start += size
        self.vocab = fx.Vocabulary(bags)
        self.train = self._features(vecs, bags)
        y = np.array([[1.0 if n in ls else -1.0 for n in names] for ls in labels])
        k = self.train @ self.train.T
        # Each intent has a few dozen examples among hundreds of other sentences: weighted so
        # that its positives count as much as everything else together (else every score sinks
        # towards "no").
        self.alpha = np.zeros_like(y)
        for j in range(len(names)):
            pos = y[:, j] > 0
            w = np.where(pos, 0.5 / max(1, pos.sum()), 0.5 / max(1, (~pos).sum())) * len(y)
            self.alpha[:, j] = np.linalg.solve(k + lam * len(k) * np.diag(1.0 / w), y[:, j])

    def _features(self, vecs: np.ndarray, bags: list[frozenset[str]]) -> np.ndarray:
        ones = np.ones((len(vecs), 1), np.float32)  # the intercept
        return np.hstack([(vecs - self.mean) * self.scale, self.lexical_weight * self.vocab.matrix(bags), ones])

    def scores(self, vecs: np.ndarray, bags: list[frozenset[str]]) -> np.ndarray:
        return (self._features(vecs, bags) @ self.train.T) @ self.alpha


class IntentSet:
    """The intents of one pack (one language), ready to judge sentences.

    `background`: plain talk per speaker (no intent), so that the judge learns what is no
    intent at all. `borrowed`: training rows from elsewhere (another language's examples:
    the embeddings are multilingual), used by the judge but never reported as evidence.
    """

    def __init__(self, intents: list[Intent], embedder: Embedder, *,
                 background: dict[str | None, tuple[str, ...]] | None = None,
                 borrowed: tuple[Row, ...] = (), cache: VectorCache | None = None,
                 lam: float = RIDGE, lexical_weight: float = fx.LEXICAL_WEIGHT,
                 actor_penalty: float = ACTOR_PENALTY, use_clauses: bool = False,
                 use_phrases: bool = False):
        self.intents = {i.name: i for i in intents}
        self.use_phrases = use_phrases  # the phrase signal, as calibrated
        self.use_clauses = use_clauses
        self.embedder, self.actor_penalty = embedder, actor_penalty
        self.cache = cache or SHARED_CACHE
        langs = {i.language for i in intents}
        if len(langs) > 1:
            raise ValueError(f"one IntentSet holds one language, got {sorted(langs)}")
        self.language = langs.pop() if langs else "en"
        rows = rows_of(intents, background) + list(borrowed)
        vecs = self.cache.vectors(embedder, [r.text for r in rows])
        bags = [fx.lexical(r.text, fx.language_of(r.text, self.language)) for r in rows]
        self._judges: dict[str | None, _Judge] = {}
        for speaker in {i.speaker for i in intents}:
            names = [i.name for i in intents if i.speaker == speaker]
            idx = [j for j, r in enumerate(rows) if r.speaker == speaker]
            self._judges[speaker] = _Judge(names, vecs[idx], [bags[j] for j in idx],
                                           [rows[j].labels for j in idx], lam, lexical_weight,
                                           tuple(getattr(embedder, "blocks", ())))
        # Evidence: each intent's own examples, in this language only.
        self._examples = {i.name: list(i.examples) for i in intents}
        self._ex_vecs = {n: self.cache.vectors(embedder, ex) for n, ex in self._examples.items()}
        self._ex_actors = {n: [lx.actors_by_lemma(t, self.language) for t in ex]
                           for n, ex in self._examples.items()}
        self._phrases = {it.name: self._compile(it) for it in intents}

    @property
    def digest(self) -> str:
        """Names these intents with their thresholds and these weights (for a verdict's record)."""
        h = hashlib.sha256(self.embedder.digest.encode())
        for it in sorted(self.intents.values(), key=lambda i: i.name):
            h.update(repr(it).encode())
        return h.hexdigest()

    def _compile(self, it: Intent) -> Phrases:
        items = [Phrase(p, tuple(t)) for p in it.phrases if (t := self._tokens(p, it.stem_phrases))]
        return Phrases(tuple(items), it.stem_phrases)

    def _tokens(self, text: str, stemmed: bool) -> list[str]:
        # Russian phrases meet over lemmas («подождите» = «подождать»); plain words where the
        # form is the meaning.
        return lx.lemmas(text, self.language) if stemmed else stems(text, self.language, False)

    def rivals(self, name: str) -> list[str]:
        """The intents that compete with `name` for the same sentence."""
        me = self.intents[name]
        return [o.name for o in self.intents.values()
                if o.name != name and o.speaker == me.speaker
                and o.name not in me.overlaps and name not in o.overlaps]

    def _nearest(self, name: str, vec: np.ndarray, actors: dict) -> tuple[float, str]:
        if not self._examples[name]:
            return -1.0, ""
        sims = self._ex_vecs[name] @ vec
        for j, theirs in enumerate(self._ex_actors[name]):
            if actors and theirs and lx.actor_clash(actors, theirs):
                sims[j] -= self.actor_penalty
        j = int(np.argmax(sims))
        return float(sims[j]), self._examples[name][j]

    def evidence(self, texts: list[str], speaker: str | None = None,
                 cache: VectorCache | None = None) -> list[dict[str, Evidence]]:
        """Raw scores of each text against the intents of `speaker` (all speakers' when None).

        A text is scored whole, without the salutation it opens with (text.sentences.after_salutation)
        and, with `use_clauses`, clause by clause; each intent keeps the piece it scores best on.
        `cache`: keep the vectors (calibration scores the same texts many times); a call's sentences
        are embedded once and not kept.
        """
        if not texts:
            return []
        pieces, owner = [], []
        for row, text in enumerate(texts):
            rest = after_salutation(text, self.language)
            for p in [text, *([rest] if rest else []), *(clauses(text) if self.use_clauses else [])]:
                pieces.append(p); owner.append(row)
        vecs = cache.vectors(self.embedder, pieces) if cache else self.embedder.encode(pieces)
        bags = [fx.lexical(p, self.language) for p in pieces]
        out: list[dict[str, Evidence]] = [{} for _ in texts]
        for sp, judge in self._judges.items():
            if speaker is not None and sp not in (None, speaker):
                continue
            scores = judge.scores(vecs, bags)
            for row, text in enumerate(texts):
                mine = [j for j, o in enumerate(owner) if o == row]
                actors = lx.actors_by_lemma(text, self.language)
                for k, name in enumerate(judge.names):
                    it = self.intents[name]
                    j = max(mine, key=lambda q: scores[q, k])
                    by_name = dict(zip(judge.names, scores[j].tolist()))
                    rival = max(self.rivals(name), key=lambda n: by_name[n], default="")
                    sim, example = self._nearest(name, vecs[j], actors)
                    hit = find(self._phrases[name], self._tokens(text, it.stem_phrases), PHRASE_FUZZY)
                    out[row][name] = Evidence(by_name[name], sim, example, rival,
                                              by_name[rival] if rival else -9.0, hit.phrase if hit else None)
        return out

    def decide(self, name: str, ev: Evidence, sentence: Sentence, use_phrases: bool | None = None) -> IntentMatch:
        """Apply intent `name`'s threshold, margin and doubt band to its evidence for a sentence."""
        it = self.intents[name]
        phrases = self.use_phrases if use_phrases is None else use_phrases
        if phrases and ev.phrase is not None and ev.score >= it.threshold - PHRASE_GUARD:
            status, via = MATCH, "phrase"
        elif ev.score >= it.threshold and ev.score - ev.rival_score >= it.margin:
            status, via = MATCH, "judge"
        elif ev.score >= it.threshold - it.doubt:
            status, via = UNSURE, "judge"
        else:
            status, via = NONE, "judge"
        return IntentMatch(name, status, sentence.text, sentence.first, sentence.last,
                           round(ev.score, 4), it.threshold, it.margin, round(ev.similarity, 4),
                           ev.phrase or ev.example, ev.rival, round(ev.rival_score, 4), via)

    def judge(self, words: list[str], speaker: str | None = None) -> list[dict[str, IntentMatch]]:
        """Every sentence of a turn (its words) against the intents of `speaker`, in order."""
        sents = split(words)
        evs = self.evidence([s.text for s in sents], speaker)
        return [{n: self.decide(n, e, s) for n, e in ev.items()} for s, ev in zip(sents, evs)]

    def best(self, words: list[str], name: str) -> IntentMatch | None:
        """The strongest sentence of a turn for intent `name`: a match first, then unsure, then none."""
        order = {MATCH: 2, UNSURE: 1, NONE: 0}
        found = [per[name] for per in self.judge(words, self.intents[name].speaker)]
        return max(found, key=lambda m: (order[m.status], m.score), default=None)
