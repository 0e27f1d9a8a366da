"""Requests and commitments in one call, and what the call says about its customer's earlier ones.

Each sentence of each turn is judged by the requests pack's intents (text.intents: a customer's
`request`, `not_done` — nobody came, nobody called back —, `confirmed`; an agent's `commitment` and
`done`), and matched against its topics. Walking the call in time order:
- a customer's request (or a service problem named by a topic) opens a request;
- the agent's commitment sentences after it become that request's commitment (what, by when); the
  deadline is read (analysis.deadlines) only from sentences recognised as commitments — and not in the
  past tense only («мастер был у вас в понедельник» is no promise for next Monday) —, from the moment
  they were said, and is the configured default when nothing is said about when;
- the agent reporting it done later in the same call fulfils it there;
- every done / confirmed / not_done is also an event for the customer's earlier requests, which
  analysis.fulfilment weighs across calls.
"Unsure" (a sentence in the intent's doubt band, or a word of it heard unclearly) is kept as such:
what rests on it is never charged to anyone without a person listening.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from callaudit.analysis.deadlines import Deadline, default_deadline, find_deadlines
from callaudit.analysis.findings import UNCLEAR
from callaudit.analysis.request_pack import RequestPack
from callaudit.analysis.workhours import WorkingHours
from callaudit.sources.customers import INBOUND, OUTBOUND, Customer, customer_from_metadata
from callaudit.text.intents import MATCH, UNSURE, IntentMatch, IntentSet
from callaudit.text.lemmas import tenses
from callaudit.text.matching import Phrases, find, stems
from callaudit.text.sentences import split
from callaudit.transcript.records import Turn

EXTRACTION_VERSION = "1"  # bump when what is extracted from the same words changes: calls are re-read
TOPIC_FUZZY = 85.0
META_TOPICS = {"unanswered"}  # says that something earlier was not done, not what it was about


@dataclass(frozen=True)
class CallFacts:
    """What the requests of a call hang on: when it took place (and how that is known), the customer,
    the direction, the agent. `started_at` is aware."""

    call: str                 # the call's public id
    sha256: str
    started_at: datetime
    start_source: str         # "file name", "CDR …", "sidecar …", "listen-in", "file mtime …"
    timed_by_metadata: bool   # False: the file's mtime, a last resort
    customer: Customer
    direction: str | None     # "inbound" | "outbound" | None (not known)
    agent: str | None
    language: str


def call_facts(sha256: str, started_at: datetime | None, meta: dict[str, Any], extension: str | None,
               language: str, file_mtime: datetime | None, region: str = "RU",
               extension_pattern: str = r"^\d{2,6}$", own_numbers: tuple[str, ...] = (),
               listen_in: bool = False) -> CallFacts:
    """The facts of a stored call from its metadata: the start time from the file name, CDR or sidecar
    (the file's mtime only when none has one, and said so), the customer from src/dst, the direction from
    the metadata or else from which side the customer is on (the caller: inbound)."""
    sources = (meta or {}).get("sources", {})
    if started_at is not None:
        where = sources.get("start", "listen-in session" if listen_in else "metadata")
        source = {"name": "file name"}.get(where, where.replace(":", " ", 1))
        timed = True
    else:
        started_at = file_mtime or datetime.now().astimezone()
        source, timed = "file mtime: no start time in the file name, CDR or sidecar", False
    customer = customer_from_metadata({**(meta or {}), "extension": extension or (meta or {}).get("extension")},
                                      region, extension_pattern, own_numbers)
    if not (meta or {}).get("src") and not (meta or {}).get("dst"):
        customer = Customer(None, None, None, "customer unknown: neither the file name, a CDR nor a sidecar gives "
                                              "the caller's or the callee's number")
    said = str((meta or {}).get("direction") or "").strip().lower()
    if said in INBOUND or said in OUTBOUND:
        direction = "inbound" if said in INBOUND else "outbound"
    else:
        direction = {"src": "inbound", "dst": "outbound"}.get(customer.side or "")
    return CallFacts(sha256[:16], sha256, started_at, source, timed, customer, direction, extension, language)


@dataclass(frozen=True)
class Said:
    """One sentence recognised as an intent: whose, where in the call, how sure."""

    intent: str
    status: str               # "match" | "unsure"
    speaker: str
    quote: str
    offset: float             # s into the call
    end: float
    turn: int
    first: int                # word indices in the turn (inclusive)
    last: int
    score: float
    example: str              # the nearest example (or the topic phrase found)
    unclear: str | None = None  # a word of it heard unclearly ("«пяти» 0.31")

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "status": self.status, "speaker": self.speaker, "quote": self.quote,
                "offset": round(self.offset, 3), "end": round(self.end, 3), "score": round(self.score, 4),
                "example": self.example, "unclear": self.unclear}


@dataclass(frozen=True)
class Commitment:
    said: tuple[Said, ...]
    deadline: Deadline
    unclear_deadline: str | None = None

    @property
    def status(self) -> str:
        """Sure when one of its sentences is clearly a commitment, heard clearly, and so is the deadline."""
        sure = any(s.status == MATCH and not s.unclear for s in self.said) and not self.unclear_deadline
        return MATCH if sure else UNSURE

    @property
    def quote(self) -> str:
        return " ".join(s.quote for s in self.said)

    @property
    def offset(self) -> float:
        return self.said[0].offset

    def to_json(self) -> dict[str, Any]:
        d = self.deadline
        return {"quote": self.quote, "offset": round(self.offset, 3), "end": round(self.said[-1].end, 3),
                "status": self.status, "unclear_deadline": self.unclear_deadline,
                "sentences": [s.to_json() for s in self.said],
                "deadline": {"due": d.due.isoformat(), "source": d.source, "quote": d.quote,
                             "explanation": d.explanation, "outside_hours": d.outside_hours, "reading": d.reading}}


@dataclass(frozen=True)
class Request:
    id: str
    position: int
    kind: str                 # "request" | "problem" (a topic of [requests] problem_topics)
    topics: tuple[str, ...]
    said: Said | None         # the customer's words; None when only the commitment was recognised
    context: str | None       # then: what the customer said just before it
    commitment: Commitment | None
    done: Said | None         # the agent reporting it done later in the same call


@dataclass(frozen=True)
class Event:
    """What a call says about the customer's requests: done (agent), confirmed, not_done (customer)."""

    kind: str
    said: Said
    topics: tuple[str, ...]


@dataclass(frozen=True)
class CallRequests:
    facts: CallFacts
    requests: tuple[Request, ...]
    events: tuple[Event, ...]
    note: str = ""            # why nothing could be followed, when so


@dataclass
class _Open:
    said: Said | None
    context: str | None
    topics: set[str]
    turn: int
    commitment: list[Said] = field(default_factory=list)
    done: Said | None = None


def _said(m: IntentMatch, speaker: str, turn: Turn, ti: int) -> Said:
    words = turn.words
    if words:
        ws = words[m.first:m.last + 1] or words[-1:]
        start, end = max(turn.start, ws[0].start), min(turn.end, ws[-1].end)
        # Whisper is often unsure of a sentence's first "I" or «и»: a word carries the meaning from three
        # letters on (the deadline's own words, digits included, are checked apart: see _deadline).
        content = [w for w in ws if sum(ch.isalpha() for ch in w.text) >= 3]
        weak = min(content, key=lambda w: w.probability, default=None)
        unclear = f"«{weak.text.strip()}» {weak.probability:.2f}" if weak and weak.probability < UNCLEAR else None
    else:
        start, end, unclear = turn.start, turn.end, None
    return Said(m.intent, m.status, speaker, m.sentence, round(start, 3), round(end, 3), ti, m.first, m.last,
                m.score, m.example, unclear)


# Negation stems: fuzzy matching lets one word drop out of a phrase, and «интернет работает» must not be
# «интернет не работает», nor "it works" "it doesn't work".
NEGATIONS = frozenset({"не", "нет", "ни", "никт", "никак", "not", "no", "nobodi", "never", "isn't", "doesn't",
                       "don't", "didn't", "won't", "can't", "hasn't", "haven't", "wasn't", "aren't"})


def _negations(words) -> int:
    return sum(w in NEGATIONS or w.endswith("n't") for w in words)


def topics_of(text: str, pack: RequestPack) -> set[str]:
    """The pack's topics whose phrases the sentence holds (word stems, fuzzy like the rule packs), a phrase
    and the words it matched negated alike."""
    toks = stems(text, pack.language)
    found = set()
    for t in pack.topics:
        for ph in t.phrases.items:
            hit = find(Phrases((ph,), t.phrases.stemmed), toks, TOPIC_FUZZY)
            if hit and _negations(ph.stems) == _negations(toks[hit.first:hit.last + 1]):
                found.add(t.id)
                break
    return found


def _deadline(sents: list[Said], turns: tuple[Turn, ...], start: datetime, hours: WorkingHours,
              default_due_hours: float, language: str) -> tuple[Deadline, str | None]:
    """The latest deadline said in the commitment's sentences (from the moment each was said), else the
    default; and a deadline word heard unclearly, if any."""
    found = []
    for s in sents:
        for d in find_deadlines(s.quote, start + timedelta(seconds=s.offset), hours, (language,)):
            found.append((d, s))
    if not found:
        return default_deadline(start + timedelta(seconds=sents[0].offset), hours, default_due_hours), None
    d, s = max(found, key=lambda x: x[0].due)
    unclear = None
    if d.words and turns[s.turn].words:
        ws = turns[s.turn].words[s.first + d.words[0]:s.first + d.words[1]]
        weak = min(ws, key=lambda w: w.probability, default=None)
        if weak is not None and weak.probability < UNCLEAR:
            unclear = f"«{weak.text.strip()}» {weak.probability:.2f}"
    return d, unclear


def request_id(sha256: str, anchor: Said, kind: str) -> str:
    """Stable: the same words at the same place of the same recording give the same id again."""
    key = f"{sha256}|{anchor.speaker}|{anchor.intent}|{anchor.offset:.1f}|{anchor.first}|{kind}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def extract(facts: CallFacts, turns: tuple[Turn, ...], pack: RequestPack, intents: IntentSet, *,
            hours: WorkingHours, default_due_hours: float, problem_topics: tuple[str, ...]) -> CallRequests:
    """The requests, commitments and events of one call (turns in time order, words included)."""
    turns = tuple(sorted(turns, key=lambda t: t.start))
    if not any(t.speaker in ("agent", "customer") for t in turns):
        note = ("roles unknown: on this mono recording agent and customer are not told apart, so requests and "
                "commitments cannot be followed") if turns else "no speech"
        return CallRequests(facts, (), (), note)
    opened: list[_Open] = []
    events: list[Event] = []
    current: _Open | None = None
    last_customer: str | None = None

    def hit(matches: dict[str, IntentMatch], name: str) -> IntentMatch | None:
        m = matches.get(name)
        return m if m is not None and m.status in (MATCH, UNSURE) else None

    for ti, turn in enumerate(turns):
        sp = turn.speaker
        if sp not in ("agent", "customer"):
            continue
        words = [w.text for w in turn.words] or turn.text.split()
        for sent, matches in zip(split(words), intents.judge(words, sp)):
            topics = topics_of(sent.text, pack)
            if sp == "customer":
                nd, rq, cf = hit(matches, "not_done"), hit(matches, "request"), hit(matches, "confirmed")
                if nd:
                    events.append(Event("not_done", _said(nd, sp, turn, ti), tuple(sorted(topics))))
                if cf and not nd and not (rq and rq.score > cf.score):
                    events.append(Event("confirmed", _said(cf, sp, turn, ti), tuple(sorted(topics))))
                    rq = None
                problem = topics & set(problem_topics) - META_TOPICS
                if rq or (problem and not cf):
                    if current is not None and current.turn == ti and not current.commitment:
                        current.topics |= topics  # one turn, one request: its sentences add topics
                    else:
                        said = _said(rq, sp, turn, ti) if rq else Said(
                            "problem", MATCH, sp, sent.text, *_place(turn, sent.first, sent.last), ti, sent.first,
                            sent.last, 1.0, "topic: " + ", ".join(sorted(problem)))
                        current = _Open(said, None, set(topics), ti)
                        opened.append(current)
                last_customer = sent.text
            else:
                cm, dn = hit(matches, "commitment"), hit(matches, "done")
                said_tenses = tenses(sent.text, pack.language)
                if cm and said_tenses and said_tenses <= {"past", "imperative"}:
                    cm = None  # «мастер был у вас в понедельник»: what happened, not a promise (nor a deadline)
                if cm and not (dn and dn.status == MATCH and dn.score > cm.score):
                    if current is None or current.done is not None:
                        current = _Open(None, last_customer, set(), ti)
                        opened.append(current)
                    current.commitment.append(_said(cm, sp, turn, ti))
                    current.topics |= topics
                elif dn:
                    done = _said(dn, sp, turn, ti)
                    events.append(Event("done", done, tuple(sorted(topics))))
                    if current is not None and current.done is None and done.status == MATCH:
                        current.done = done
    out = []
    for o in opened:
        if o.said is not None and o.said.status == UNSURE and not o.commitment and o.said.intent != "problem":
            continue  # an unsure request nobody answered is noise, not a lead
        commitment = None
        if o.commitment:
            d, unclear = _deadline(o.commitment, turns, facts.started_at, hours, default_due_hours, facts.language)
            commitment = Commitment(tuple(o.commitment), d, unclear)
        kind = "problem" if (o.topics & set(problem_topics)) - META_TOPICS else "request"
        anchor = o.said or o.commitment[0]
        out.append(Request(request_id(facts.sha256, anchor, kind), len(out), kind, tuple(sorted(o.topics)), o.said,
                           o.context if o.said is None else None, commitment, o.done))
    return CallRequests(facts, tuple(out), tuple(events))


def _place(turn: Turn, first: int, last: int) -> tuple[float, float]:
    ws = turn.words[first:last + 1]
    if not ws:
        return round(turn.start, 3), round(turn.end, 3)
    return round(max(turn.start, ws[0].start), 3), round(min(turn.end, ws[-1].end), 3)


class Recogniser:
    """The requests packs and their intent sets, one per language, built on first use with one embedder
    (loading it takes seconds: build one Recogniser per batch)."""

    def __init__(self, embedder, pack_path: Callable[[str], Any]):
        self.embedder = embedder
        self.pack_path = pack_path
        self._packs: dict[str, tuple[RequestPack, IntentSet]] = {}

    def for_language(self, language: str) -> tuple[RequestPack, IntentSet]:
        from callaudit.analysis import request_pack

        lang = language if language in ("ru", "en") else "ru"
        if lang not in self._packs:
            pack = request_pack.load(self.pack_path(lang), self.embedder.name)
            iset = IntentSet(list(pack.intents), self.embedder, background=dict(pack.background))
            self._packs[lang] = (pack, iset)
        return self._packs[lang]

    def digest(self, language: str) -> str:
        """Names what the extraction of a call in `language` depends on: the pack, the weights, this code."""
        pack, _ = self.for_language(language)
        return hashlib.sha256(f"{pack.sha256}|{self.embedder.digest}|{EXTRACTION_VERSION}".encode()).hexdigest()
