"""Whether a commitment was kept: its status from what later calls with the same customer show.

A pure function of the commitment, the customer's other calls and the moment the recordings reach
(`as_of`: the latest call stored whose time the metadata gives; nothing later can be known yet):
- *fulfilled* when, after the commitment and by its deadline plus the grace, the agent reports it done
  (later in the same call or in a later call), the customer confirms it, or the department calls the
  customer (an outbound call) — unless in that call the customer says it was not done, or the agent
  promises it again (postponed);
- *late* when that happens after the deadline plus the grace;
- *overdue* when the deadline plus the grace has passed with none of it;
- *open* while it has not passed; *closed* when a person closed it by hand;
- *customer-unknown* when the call's metadata names no customer and nothing in the call itself kept it.
A customer calling again about the same topic, or saying nobody came or called back, is evidence of
non-fulfilment and goes into the chain as such. A verdict can cost a person their bonus, so what cannot
be told is said: `doubt` names it (a commitment heard unsurely, a later call in which nothing was
recognised as done or not done, a call timed only by its file's mtime, no outbound call of the department
recorded at all while the callback was due — the callback may simply not have been recorded), and a
doubtful late or overdue is not charged to anyone.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo

MATCH = "match"
META_TOPICS = frozenset({"unanswered"})
STATUSES = ("open", "fulfilled", "late", "overdue", "closed", "no-commitment", "customer-unknown")


@dataclass(frozen=True)
class Link:
    """One link of a request's evidence chain: what happened, in which call, when, in whose words."""

    kind: str            # request, commitment, done, confirmed, callback, not_done, repeat_contact, postponed,
    #                      later_contact, deadline, closed
    call: str | None     # the call's public id
    at: datetime
    quote: str = ""
    who: str = ""        # "customer", an agent's extension, or the person who closed it
    status: str | None = None   # how surely the words were recognised: match | unsure
    note: str = ""
    offset: float | None = None  # s into the call, for a clip
    topics: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"kind": self.kind, "call": self.call, "at": self.at.isoformat(), "offset": self.offset,
                "quote": self.quote, "who": self.who, "status": self.status, "note": self.note}


@dataclass(frozen=True)
class Item:
    """A request and the commitment to it, as the status is computed for it."""

    id: str
    call: str
    customer: str | None
    agent: str | None
    topics: tuple[str, ...]
    request: Link | None
    commitment: Link | None
    commitment_sure: bool = True
    due: datetime | None = None
    due_source: str | None = None
    done_in_call: Link | None = None
    timed_by_metadata: bool = True   # False: the call's time is only its file's mtime


@dataclass(frozen=True)
class Contact:
    """Another call with the same customer: its events (done / confirmed / not_done links), the customer's
    requests in it and the agent's commitments in it."""

    call: str
    started_at: datetime
    direction: str | None
    agent: str | None
    events: tuple[Link, ...] = ()
    requests: tuple[Link, ...] = ()
    commitments: tuple[Link, ...] = ()
    timed_by_metadata: bool = True


@dataclass(frozen=True)
class Closure:
    by: str
    note: str
    at: datetime


@dataclass(frozen=True)
class Status:
    status: str
    fulfilled_at: datetime | None
    evidence: tuple[Link, ...]
    doubt: str | None
    as_of: datetime


def _specific(topics) -> frozenset[str]:
    return frozenset(topics) - META_TOPICS


def compatible(a, b) -> bool:
    """Two topic sets may be about the same thing: one of them names none, or they share one."""
    a, b = _specific(a), _specific(b)
    return not a or not b or bool(a & b)


def _clock(at: datetime, tz: tzinfo | None = None) -> str:
    return (at.astimezone(tz) if tz else at).strftime("%Y-%m-%d %H:%M")


def status(item: Item, contacts: list[Contact], as_of: datetime, grace: timedelta,
           closure: Closure | None = None, tz: tzinfo | None = None,
           outbound: list[datetime] | None = None) -> Status:
    """The status of `item` given the customer's `contacts` (other calls, any order) up to `as_of`;
    `tz`: the department's timezone, for the times the notes name; `outbound`: the start times (sorted) of
    every outbound call of the department stored, to any customer — when none lies between the commitment
    and the verdict, outbound calls may not be recorded at all, and a missing callback proves nothing
    (None: not checked)."""
    chain = [x for x in (item.request, item.commitment) if x is not None]
    if closure is not None:
        chain.append(Link("closed", None, closure.at, closure.note, closure.by, None,
                          f"closed by hand by {closure.by}"))
        return Status("closed", None, tuple(chain), None, as_of)
    if item.commitment is None or item.due is None:
        if item.done_in_call is not None:
            chain.append(item.done_in_call)
            return Status("fulfilled", item.done_in_call.at, tuple(chain), None, as_of)
        # A problem nobody committed to is still solved when a later call says so about its topic.
        asked = (item.request or chain[-1]).at if chain else None
        for c in sorted(contacts, key=lambda c: c.started_at):
            if asked is None or not _specific(item.topics) or c.call == item.call or c.started_at <= asked:
                continue
            sure = [e for e in c.events if e.kind in ("done", "confirmed") and e.status == MATCH
                    and compatible(item.topics, e.topics)]
            if sure:
                chain.append(replace(sure[0], note="a later call: " + ("the agent reports it done"
                                                                       if sure[0].kind == "done"
                                                                       else "the customer confirms it is solved")))
                return Status("fulfilled", sure[0].at, tuple(chain), None, as_of)
        chain.append(Link("no_commitment", item.call, (item.request or chain[-1]).at, "", "", None,
                          "no commitment was recognised: the in-call rule (request-handling) judges that"))
        return Status("no-commitment", None, tuple(chain), None, as_of)

    made = item.commitment.at
    limit = item.due + grace
    fulfil: Link | None = None
    unclear: list[str] = []
    if item.done_in_call is not None and item.done_in_call.at >= made:
        fulfil = item.done_in_call
        chain.append(fulfil)
    for c in sorted(contacts, key=lambda c: c.started_at):
        if fulfil is not None:
            break
        if c.call == item.call or c.started_at <= made:
            continue
        fits = [e for e in c.events if compatible(item.topics, e.topics)]
        dones = [e for e in fits if e.kind in ("done", "confirmed")]
        sure = [e for e in dones if e.status == MATCH]
        not_done = [e for e in fits if e.kind == "not_done"]
        way = "an outbound call to the customer" if c.direction == "outbound" else "a later call"
        if sure:
            e = sure[0]
            fulfil = replace(e, note=f"{way}: " + ("the agent reports it done" if e.kind == "done"
                                                   else "the customer confirms it is done"))
            chain.append(fulfil)
            break
        if not_done:
            chain += [replace(e, note=f"{way}: the customer says it was not done (evidence of non-fulfilment)")
                      for e in not_done]
            continue
        again = [k for k in c.commitments if compatible(item.topics, k.topics)]
        if c.direction == "outbound":
            if again and not dones:
                k = again[0]
                chain.append(replace(k, kind="postponed", note="an outbound call to the customer, but the agent "
                                                               "promised it again: not done yet"))
                continue
            fulfil = Link("callback", c.call, c.started_at, dones[0].quote if dones else "", c.agent or "agent",
                          dones[0].status if dones else None,
                          f"outbound call from {c.agent or 'the department'} to the customer (the callback)"
                          + ("; what was said in it was not recognised as done or not done" if not dones else
                             "; the agent may report it done (recognised unsurely)"),
                          0.0)
            chain.append(fulfil)
            break
        same = [r for r in c.requests if _specific(item.topics) & _specific(r.topics)]
        if same:
            chain.append(replace(same[0], kind="repeat_contact",
                                 note="the customer called again about the same topic (evidence of non-fulfilment)"))
            continue
        if dones:
            chain.append(replace(dones[0], note=f"{way}: may report it done (recognised unsurely)"))
        else:
            chain.append(Link("later_contact", c.call, c.started_at, "", c.agent or "", None,
                              f"{way} with the customer: nothing in it was recognised as done or not done", 0.0))
        unclear.append(f"{c.call} at {_clock(c.started_at, tz)}")

    doubts = []
    if not item.commitment_sure:
        doubts.append("the commitment was recognised unsurely (or a word of it heard unclearly): listen to it")
    passed = Link("deadline", None, limit, "", "", None,
                  f"due {_clock(item.due, tz)} ({item.due_source}) + {grace.total_seconds() / 60:g} min grace passed")
    if fulfil is not None:
        state = "fulfilled" if fulfil.at <= limit else "late"
        if state == "late":
            chain.append(replace(passed, note=passed.note + " before it was done"))
    elif item.customer is None:
        state = "customer-unknown"
        doubts.append("customer unknown: the call's metadata names no customer's number, so later calls and "
                      "callbacks cannot be followed")
    elif as_of > limit:
        state = "overdue"
        chain.append(replace(passed, note=passed.note + f"; nothing recorded up to {_clock(as_of, tz)} shows it done"))
    else:
        state = "open"
    if state in ("late", "overdue"):
        doubts += _timing_doubts(item, contacts, made, fulfil.at if fulfil is not None else as_of, chain, tz,
                                 outbound)
    if state in ("late", "overdue") and unclear:
        doubts.append("a later call may tell what became of it (" + "; ".join(unclear) + "): a person should listen")
    chain.sort(key=lambda link: link.at)  # the story in time order (stable: the commitment before its deadline)
    return Status(state, fulfil.at if fulfil is not None else None, tuple(chain), "; ".join(doubts) or None, as_of)


def _timing_doubts(item: Item, contacts: list[Contact], made: datetime, end: datetime, chain: list[Link],
                   tz: tzinfo | None, outbound: list[datetime] | None) -> list[str]:
    """What makes a late or overdue unprovable: times that only a file's mtime gives, and no record of any
    outbound call while the callback was due (unless the customer says outright it was not done)."""
    out = []
    if not item.timed_by_metadata:
        out.append("the call with the commitment is timed only by its file's mtime: its deadline cannot be trusted")
    loose = [c for c in contacts if c.call != item.call and not c.timed_by_metadata]
    if loose:
        out.append("timed only by the file's mtime, so whether it came before the deadline cannot be told: "
                   + "; ".join(f"{c.call} at {_clock(c.started_at, tz)}" for c in loose))
    told = any(x.kind == "not_done" and x.status == MATCH for x in chain)
    if outbound is not None and not told:
        i = bisect.bisect_right(outbound, made)
        if i >= len(outbound) or outbound[i] > end:
            out.append(f"no outbound call of the department is recorded between {_clock(made, tz)} and "
                       f"{_clock(end, tz)}: a callback would not show (are outbound calls recorded?)")
    return out
