"""Requests in the store: each call's extraction replaced in one transaction, the customer's calls read back
as fulfilment records, statuses saved (their `changed_at` moves only when they change), closures by hand.

Rows are in store/request_rows.py (CallCustomerRow, RequestRow, RequestEventRow, RequestStatusRow,
RequestClosureRow); this module keeps the writes and the questions the commands and reports ask.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from callaudit.analysis.fulfilment import Closure, Contact, Item, Link, Status
from callaudit.errors import CallauditError
from callaudit.store.accounts import DECIDERS
from callaudit.store.queries import by_id_prefix
from callaudit.store.request_rows import (
    CallCustomerRow,
    RequestClosureRow,
    RequestEventRow,
    RequestRow,
    RequestStatusRow,
)
from callaudit.store.schema import SCORED, CallRow, ScoreRow, UserRow, utcnow
from callaudit.transcript.records import Turn, Word

if TYPE_CHECKING:  # a report reads the stored requests: the analysis (numpy, stemmers, dateparser) stays unloaded
    from callaudit.analysis.requests import CallRequests

OPEN_STATES = ("open", "overdue")  # may still change without a new call of that customer (time passes)


def scored_calls(s: Session) -> list[tuple[CallRow, ScoreRow, CallCustomerRow | None]]:
    """Every scored call with its current score and what its requests were last extracted from."""
    q = (select(CallRow, ScoreRow, CallCustomerRow)
         .join(ScoreRow, (ScoreRow.call_id == CallRow.id) & ScoreRow.is_current)
         .outerjoin(CallCustomerRow, CallCustomerRow.call_id == CallRow.id)
         .where(CallRow.status == SCORED).order_by(CallRow.id))
    return [tuple(r) for r in s.execute(q).all()]


def turns_of(score: ScoreRow) -> tuple[Turn, ...]:
    """A stored scoring's transcript turns, words included, as the transcriber made them."""
    return tuple(Turn(t.speaker, t.start, t.end, t.text,
                      tuple(Word(w.start, w.end, w.text, w.probability) for w in t.words), t.loudness_db or 0.0)
                 for t in score.turns)


def replace_call(s: Session, call: CallRow, score: ScoreRow, digest: str, found: CallRequests) -> None:
    """The call's requests and events, replaced by `found` (extracted from `score`). No commit."""
    f = found.facts
    s.execute(delete(RequestRow).where(RequestRow.call_id == call.id))
    s.execute(delete(RequestEventRow).where(RequestEventRow.call_id == call.id))
    row = s.get(CallCustomerRow, call.id) or CallCustomerRow(call_id=call.id)
    row.score_id, row.digest, row.customer, row.customer_why = score.id, digest, f.customer.key, f.customer.why
    row.direction, row.agent, row.started_at, row.start_source = f.direction, f.agent, f.started_at, f.start_source
    row.timed_by_metadata, row.language, row.note, row.extracted_at = f.timed_by_metadata, f.language, found.note, utcnow()
    s.add(row)
    s.flush()
    for r in found.requests:
        c = r.commitment
        anchor = r.said.offset if r.said else c.offset
        s.add(RequestRow(
            public_id=r.id, call_id=call.id, position=r.position, kind=r.kind, topics=list(r.topics),
            customer=f.customer.key, agent=f.agent, asked_at=f.started_at + timedelta(seconds=anchor),
            request=(r.said.to_json() if r.said else {"context": r.context}),
            commitment=c.to_json() if c else None,
            committed_at=f.started_at + timedelta(seconds=c.offset) if c else None,
            due=c.deadline.due if c else None, due_source=c.deadline.source if c else None,
            done_in_call=r.done.to_json() if r.done else None))
    for e in found.events:
        s.add(RequestEventRow(call_id=call.id, customer=f.customer.key, kind=e.kind,
                              at=f.started_at + timedelta(seconds=e.said.offset),
                              said={**e.said.to_json(), "topics": list(e.topics)}))


def horizon(s: Session) -> datetime | None:
    """The latest call start the metadata gives (file times are not trusted for it): the recordings reach
    this far, so a deadline before it with nothing recorded is overdue, one after it still open."""
    return s.scalar(select(func.max(CallCustomerRow.started_at)).where(CallCustomerRow.timed_by_metadata))


def customers_to_recompute(s: Session, touched: Iterable[str | None]) -> set[str | None]:
    """The customers whose statuses may have changed: those of calls just extracted, and those with a request
    still open or overdue (time has passed), or with none computed yet."""
    keys = set(touched)
    q = (select(RequestRow.customer).outerjoin(RequestStatusRow, RequestStatusRow.public_id == RequestRow.public_id)
         .where(or_(RequestStatusRow.public_id.is_(None), RequestStatusRow.status.in_(OPEN_STATES))).distinct())
    keys |= set(s.scalars(q))
    return keys


def _said_link(kind: str, call: str, started: datetime, said: dict, who: str, topics=()) -> Link:
    return Link(kind, call, started + timedelta(seconds=said.get("offset") or 0.0), said.get("quote", ""), who,
                said.get("status"), "", said.get("offset"), tuple(topics))


def item_of(r: RequestRow, call: CallRow, started: datetime, timed_by_metadata: bool = True) -> Item:
    """A stored request as analysis.fulfilment reads it."""
    cid = call.public_id
    req = None
    if r.request and "quote" in r.request:
        req = _said_link(r.kind, cid, started, r.request, "customer", r.topics)
    com = None
    if r.commitment:
        com = _said_link("commitment", cid, started, r.commitment, r.agent or "agent", r.topics)
        com = replace(com, note=r.commitment["deadline"]["explanation"])
    done = None
    if r.done_in_call and r.done_in_call.get("status") == "match":
        done = _said_link("done", cid, started, r.done_in_call, r.agent or "agent", r.topics)
        done = replace(done, note="later in the same call: the agent reports it done")
    return Item(r.public_id, cid, r.customer, r.agent, tuple(r.topics), req, com,
                bool(r.commitment and r.commitment.get("status") == "match"), r.due, r.due_source, done,
                timed_by_metadata)


def customer_records(s: Session, customer: str | None, call_id: int | None = None
                     ) -> tuple[list[tuple[RequestRow, Item]], list[Contact], dict[str, Closure]]:
    """A customer's requests (as fulfilment items), their calls (as contacts) and closures by hand. For an
    unknown customer (None), only the one call `call_id`: nothing links it to any other."""
    calls_q = select(CallCustomerRow, CallRow).join(CallRow, CallRow.id == CallCustomerRow.call_id)
    calls_q = calls_q.where(CallCustomerRow.call_id == call_id) if customer is None else \
        calls_q.where(CallCustomerRow.customer == customer)
    calls = {cc.call_id: (cc, call) for cc, call in s.execute(calls_q).all()}
    rows = s.scalars(select(RequestRow).where(RequestRow.call_id.in_(calls)).order_by(RequestRow.asked_at,
                                                                                       RequestRow.position)).all()
    events = s.scalars(select(RequestEventRow).where(RequestEventRow.call_id.in_(calls))).all()
    items = [(r, item_of(r, calls[r.call_id][1], calls[r.call_id][0].started_at,
                         calls[r.call_id][0].timed_by_metadata)) for r in rows]
    contacts = []
    for cid, (cc, call) in calls.items():
        evs = tuple(Link(e.kind, call.public_id, e.at, e.said.get("quote", ""),
                         "customer" if e.said.get("speaker") == "customer" else (cc.agent or "agent"),
                         e.said.get("status"), "", e.said.get("offset"), tuple(e.said.get("topics", ())))
                    for e in sorted(events, key=lambda e: e.at) if e.call_id == cid)
        mine = [it for r, it in items if r.call_id == cid]
        contacts.append(Contact(call.public_id, cc.started_at, cc.direction, cc.agent, evs,
                                tuple(it.request for it in mine if it.request),
                                tuple(it.commitment for it in mine if it.commitment), cc.timed_by_metadata))
    ids = [r.public_id for r, _ in items]
    closures: dict[str, Closure] = {}
    for c in s.scalars(select(RequestClosureRow).where(RequestClosureRow.public_id.in_(ids))
                       .order_by(RequestClosureRow.at)):
        closures[c.public_id] = Closure(c.by, c.note, c.at)  # the latest closure stands
    return items, contacts, closures


def outbound_times(s: Session) -> list[datetime]:
    """When each outbound call of the department stored began (to any customer; timed by metadata), sorted:
    where none lies in a stretch of time, outbound calls may not be recorded then, and a missing callback
    proves nothing."""
    q = (select(CallCustomerRow.started_at).where(CallCustomerRow.direction == "outbound",
                                                  CallCustomerRow.timed_by_metadata)
         .order_by(CallCustomerRow.started_at))
    return list(s.scalars(q))


def unknown_customer_calls(s: Session) -> list[int]:
    """Calls with requests but no customer: each is recomputed on its own."""
    return list(s.scalars(select(RequestRow.call_id).where(RequestRow.customer.is_(None)).distinct()))


def save_status(s: Session, public_id: str, st: Status, charged: str | None, finding: dict | None,
                now: datetime) -> bool:
    """Store a request's status; True when it changed (status, evidence, doubt or verdict)."""
    evidence = [link.to_json() for link in st.evidence]
    row = s.get(RequestStatusRow, public_id)
    same = row is not None and (row.status, row.evidence, row.doubt, row.finding, row.charged,
                                row.fulfilled_at) == (st.status, evidence, st.doubt, finding, charged, st.fulfilled_at)
    if row is None:
        row = RequestStatusRow(public_id=public_id, changed_at=now)
        s.add(row)
    if not same:
        row.status, row.evidence, row.doubt, row.finding, row.charged = st.status, evidence, st.doubt, finding, charged
        row.fulfilled_at, row.changed_at = st.fulfilled_at, now
    row.as_of, row.computed_at = st.as_of, now
    return not same


def move_horizon(s: Session, as_of: datetime) -> None:
    """Every status holds as of `as_of` after a recompute: those not recomputed are final (fulfilled, late,
    closed, ...) and nothing of their customer arrived, so they stand at the new horizon too."""
    s.execute(update(RequestStatusRow).where(RequestStatusRow.as_of < as_of).values(as_of=as_of)
              .execution_options(synchronize_session=False))


def drop_orphan_statuses(s: Session) -> int:
    """Statuses of requests that are no longer extracted (their call was rescored and said otherwise)."""
    gone = select(RequestRow.public_id)
    return s.execute(delete(RequestStatusRow).where(RequestStatusRow.public_id.not_in(gone))
                     .execution_options(synchronize_session=False)).rowcount or 0


def find_request(s: Session, ident: str) -> RequestRow:
    """A request by the id `requests list` prints (at least 6 of its hex digits)."""
    return by_id_prefix(s, RequestRow.public_id, ident.strip().lower(), "request", "requests list", "6+ hex digits")


def close(s: Session, request: RequestRow, author: UserRow, note: str) -> RequestClosureRow:
    """Record an hr/admin account closing a request by hand (append-only, with who and when)."""
    note = note.strip()
    if author is None or author.disabled:
        raise CallauditError("closing a request needs an enabled account as its author")
    if author.role not in DECIDERS:
        raise CallauditError(f"account {author.name!r} ({author.role}) may not close a request: "
                             f"only {' or '.join(DECIDERS)}")
    if not note:
        raise CallauditError("closing a request needs why (--note)")
    if len(note) > 2000:
        raise CallauditError("--note is at most 2000 characters")
    row = RequestClosureRow(public_id=request.public_id, by=author.name, user_id=author.id, note=note)
    s.add(row)
    s.flush()
    return row


def request_rows(s: Session, *, status: str | None = None, agent: str | None = None, customer: str | None = None,
                 since: datetime | None = None, until: datetime | None = None, kind: str | None = None
                 ) -> list[dict[str, Any]]:
    """Stored requests with their status and call, oldest first, as plain records (texts not yet redacted)."""
    q = (select(RequestRow, RequestStatusRow, CallRow, CallCustomerRow)
         .join(CallRow, CallRow.id == RequestRow.call_id)
         .join(CallCustomerRow, CallCustomerRow.call_id == RequestRow.call_id)
         .outerjoin(RequestStatusRow, RequestStatusRow.public_id == RequestRow.public_id))
    if status:
        q = q.where(RequestStatusRow.status == status)
    if agent:
        q = q.where(or_(RequestRow.agent == agent, RequestStatusRow.charged == agent))
    if customer:
        q = q.where(RequestRow.customer == customer)
    if since is not None:
        q = q.where(RequestRow.asked_at >= since)
    if until is not None:
        q = q.where(RequestRow.asked_at < until)
    if kind:
        q = q.where(RequestRow.kind == kind)
    out = []
    for r, st, call, cc in s.execute(q.order_by(RequestRow.asked_at, RequestRow.position)).all():
        out.append({"row": r, "status": st, "call": call, "facts": cc})
    return out


def customer_calls(s: Session, customer: str) -> list[tuple[CallCustomerRow, CallRow]]:
    """The customer's calls, oldest first."""
    q = (select(CallCustomerRow, CallRow).join(CallRow, CallRow.id == CallCustomerRow.call_id)
         .where(CallCustomerRow.customer == customer).order_by(CallCustomerRow.started_at))
    return [tuple(r) for r in s.execute(q).all()]


def status_counts(s: Session) -> dict[str, int]:
    """How many requests have each status now."""
    return dict(s.execute(select(RequestStatusRow.status, func.count()).group_by(RequestStatusRow.status)).all())


def call_by_public_id(s: Session, public_id: str) -> CallRow | None:
    return s.scalar(select(CallRow).where(CallRow.sha256.like(public_id + "%")).limit(1))
