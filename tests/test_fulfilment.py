"""The cases of the cross-call rule (request-fulfilment): a commitment and the customer's later calls, and
the status, the evidence chain and who is charged. Pure functions, no model: a table, like the rule
packs' examples, for what one call's timed turns cannot show."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callaudit.analysis import rulepack
from callaudit.analysis.fulfilment import Closure, Contact, Item, Link, compatible, status
from callaudit.analysis.kinds.request_fulfilment import charge
from callaudit.analysis.rulepack import default_pack_path

MSK = ZoneInfo("Europe/Moscow")
GRACE = timedelta(minutes=30)


def t(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 22 + day, hh, mm, tzinfo=MSK)


def item(due=t(1, 17), topics=("no-connection",), sure=True, customer="+79161112233", done_in_call=None,
         commitment=True, source="said") -> Item:
    req = Link("request", "call-1", t(1, 10, 15), "интернет не работает", "customer", "match", topics=topics)
    com = Link("commitment", "call-1", t(1, 10, 16), "перезвоню до пяти", "1040", "match" if sure else "unsure",
               offset=60.0, topics=topics) if commitment else None
    return Item("r1", "call-1", customer, "1040", topics, req, com, sure, due if commitment else None,
                source if commitment else None, done_in_call)


def said(kind, call, at, quote="", status_="match", topics=(), who="customer") -> Link:
    return Link(kind, call, at, quote, who, status_, "", 5.0, topics)


def contact(call, at, direction="inbound", events=(), requests=(), commitments=()) -> Contact:
    return Contact(call, at, direction, "1041", tuple(events), tuple(requests), tuple(commitments))


AS_OF = t(3, 16)
DONE = said("done", "cb", t(1, 15, 41), "неисправность устранена", who="1040")

CASES = [
    # (name, item, contacts, as_of, expected status, expected chain kinds)
    ("callback in time reports it done", item(), [contact("cb", t(1, 15, 40), "outbound", [DONE])], AS_OF,
     "fulfilled", ["request", "commitment", "done"]),
    ("customer confirms in a later call", item(),
     [contact("c2", t(1, 16, 0), events=[said("confirmed", "c2", t(1, 16, 1), "всё работает")])], AS_OF,
     "fulfilled", ["request", "commitment", "confirmed"]),
    ("an outbound call alone is the callback", item(), [contact("cb", t(1, 16, 50), "outbound")], AS_OF,
     "fulfilled", ["request", "commitment", "callback"]),
    ("within the grace is in time", item(), [contact("cb", t(1, 17, 25), "outbound", [replace(DONE, at=t(1, 17, 26))])],
     AS_OF, "fulfilled", ["request", "commitment", "done"]),
    ("callback after deadline and grace is late", item(),
     [contact("cb", t(2, 9, 0), "outbound", [replace(DONE, at=t(2, 9, 1))])], AS_OF, "late",
     ["request", "commitment", "deadline", "done"]),
    ("nothing after the deadline is overdue", item(), [], AS_OF, "overdue", ["request", "commitment", "deadline"]),
    ("before the deadline it is open", item(due=t(3, 18)), [], AS_OF, "open", ["request", "commitment"]),
    ("a repeat call saying nobody came is evidence of non-fulfilment", item(),
     [contact("c2", t(2, 10), events=[said("not_done", "c2", t(2, 10, 1), "никто не перезвонил",
                                           topics=("unanswered",))])],
     AS_OF, "overdue", ["request", "commitment", "deadline", "not_done"]),
    ("a repeat call about the same topic", item(),
     [contact("c2", t(2, 10), requests=[said("request", "c2", t(2, 10, 1), "опять нет интернета",
                                             topics=("no-connection",))])],
     AS_OF, "overdue", ["request", "commitment", "deadline", "repeat_contact"]),
    ("a callback that promises again is not the fulfilment", item(),
     [contact("cb", t(1, 16), "outbound", commitments=[said("commitment", "cb", t(1, 16, 1), "завтра сделаем",
                                                            who="1041")])],
     AS_OF, "overdue", ["request", "commitment", "postponed", "deadline"]),
    ("a callback where the customer says it is not done", item(),
     [contact("cb", t(1, 16), "outbound", events=[said("not_done", "cb", t(1, 16, 1), "так и не работает")])],
     AS_OF, "overdue", ["request", "commitment", "not_done", "deadline"]),
    ("done later in the same call", item(done_in_call=said("done", "call-1", t(1, 10, 20), "готово", who="1040")),
     [], AS_OF, "fulfilled", ["request", "commitment", "done"]),
    ("a later call about another topic does not fulfil it", item(),
     [contact("c2", t(2, 10), events=[said("done", "c2", t(2, 10, 1), "тариф изменён", topics=("tariff",),
                                           who="1041")])],
     AS_OF, "overdue", ["request", "commitment", "deadline", "later_contact"]),
    ("calls before the commitment do not count", item(),
     [contact("c0", t(1, 9), "outbound", [replace(DONE, at=t(1, 9, 1))])], AS_OF, "overdue",
     ["request", "commitment", "deadline"]),
    ("customer unknown: cannot be followed", item(customer=None), [], AS_OF, "customer-unknown",
     ["request", "commitment"]),
    ("a request nobody committed to", item(commitment=False), [], AS_OF, "no-commitment", ["request", "no_commitment"]),
    ("a problem nobody committed to, solved by a later call", item(commitment=False),
     [contact("c2", t(2, 10), events=[said("confirmed", "c2", t(2, 10, 1), "интернет работает",
                                           topics=("no-connection",))])], AS_OF, "fulfilled", ["request", "confirmed"]),
    ("a missed default deadline is overdue, marked default", item(due=t(2, 10, 16), source="default"), [], AS_OF,
     "overdue", ["request", "commitment", "deadline"]),
]


@pytest.mark.parametrize("name, it, contacts, as_of, expect, chain", CASES, ids=[c[0] for c in CASES])
def test_status_and_chain(name, it, contacts, as_of, expect, chain):
    st = status(it, contacts, as_of, GRACE, tz=MSK)
    assert st.status == expect
    assert [link.kind for link in st.evidence] == chain
    if expect in ("fulfilled", "late"):
        assert st.fulfilled_at == st.evidence[-1].at
    if expect == "overdue" and it.due_source == "default":
        assert "(default)" in st.evidence[-1].note
    assert [link.at for link in st.evidence] == sorted(link.at for link in st.evidence)  # the story in order


def test_the_deadline_link_says_when_in_the_departments_time():
    st = status(item(), [], AS_OF, GRACE, tz=MSK)
    assert st.evidence[-1].note == ("due 2026-11-23 17:00 (said) + 30 min grace passed; nothing recorded up to "
                                    "2026-11-25 16:00 shows it done")


def test_a_later_call_nobody_can_read_makes_an_overdue_doubtful():
    st = status(item(), [contact("c2", t(2, 11))], AS_OF, GRACE, tz=MSK)
    assert st.status == "overdue" and "c2 at 2026-11-24 11:00" in st.doubt and "a person should listen" in st.doubt


def test_an_unsure_done_in_a_later_call_is_a_doubt_not_a_fulfilment():
    st = status(item(), [contact("c2", t(2, 11), events=[replace(DONE, call="c2", at=t(2, 11, 1), status="unsure")])],
                AS_OF, GRACE, tz=MSK)
    assert st.status == "overdue" and st.doubt


def test_an_unsure_commitment_is_a_doubt():
    st = status(item(sure=False), [], AS_OF, GRACE)
    assert st.status == "overdue" and "recognised unsurely" in st.doubt


def test_closed_by_hand_wins_and_names_who():
    st = status(item(), [], AS_OF, GRACE, Closure("Olga HR", "customer withdrew the request", t(2, 9)))
    assert st.status == "closed" and st.evidence[-1].who == "Olga HR" and st.evidence[-1].quote.startswith("customer")


def test_topics_compatible():
    assert compatible((), ("billing",)) and compatible(("billing", "tv"), ("tv",))
    assert not compatible(("billing",), ("tv",))
    assert compatible(("billing",), ("unanswered",))  # "nobody called back" is about whatever was asked


@pytest.fixture(scope="module")
def rule():
    pack = rulepack.load(default_pack_path("ru"))
    return pack.rule("request-fulfilment")


@pytest.mark.parametrize("contacts, expect", [
    ([], False),                                                          # overdue
    ([contact("cb", t(2, 9, 0), "outbound", [replace(DONE, at=t(2, 9, 1))])], False),  # late
    ([contact("cb", t(1, 15, 40), "outbound", [DONE])], True),             # fulfilled
    ([contact("c2", t(2, 11))], None),                                    # overdue, but doubtful
])
def test_the_rule_charges_the_agent_who_made_the_commitment(rule, contacts, expect):
    it = item()
    st = status(it, contacts, AS_OF, GRACE, tz=MSK)
    f = charge(rule, it, st, MSK)
    assert f["passed"] is expect and f["agent"] == "1040" and f["severity"] == "major"
    assert f["quote"] == "перезвоню до пяти" and "перезвоню" not in f["detail"]  # the words stay redactable


def test_nothing_is_charged_while_open_or_closed(rule):
    assert charge(rule, item(due=t(3, 18)), status(item(due=t(3, 18)), [], AS_OF, GRACE), MSK) is None
    closed = status(item(), [], AS_OF, GRACE, Closure("Olga", "done by the office", t(2, 9)))
    assert charge(rule, item(), closed, MSK) is None


def test_late_is_not_charged_when_the_pack_says_so(rule):
    lenient = replace(rule, params={"statuses": ["overdue"]})
    st = status(item(), [contact("cb", t(2, 9, 0), "outbound", [replace(DONE, at=t(2, 9, 1))])], AS_OF, GRACE)
    assert charge(lenient, item(), st, MSK)["passed"] is True


# What cannot be proved is not charged: a wrong "overdue" on an agent is as bad as a wrong fail.
OUT_ELSEWHERE = [t(1, 12), t(2, 12)]  # outbound calls to other customers: outbound calls are recorded


@pytest.mark.parametrize("outbound, doubt", [
    ([], "no outbound call of the department is recorded between 2026-11-23 10:16 and 2026-11-25 16:00"),
    ([t(1, 9)], "no outbound call"),             # only before the commitment: says nothing about after it
    (OUT_ELSEWHERE, None),
])
def test_an_overdue_needs_outbound_calls_to_be_recorded(rule, outbound, doubt):
    st = status(item(), [], AS_OF, GRACE, tz=MSK, outbound=outbound)
    assert st.status == "overdue"
    if doubt is None:
        assert st.doubt is None and charge(rule, item(), st, MSK)["passed"] is False
    else:
        assert doubt in st.doubt and "callback would not show" in st.doubt
        f = charge(rule, item(), st, MSK)
        assert f["passed"] is None and f["status"] == "not evaluated" and "outbound" in f["detail"]


def test_the_customer_saying_nobody_called_needs_no_outbound_record():
    said_so = contact("c2", t(2, 10), events=[said("not_done", "c2", t(2, 10, 1), "никто не перезвонил",
                                                   topics=("unanswered",))])
    st = status(item(), [said_so], AS_OF, GRACE, tz=MSK, outbound=[])
    assert st.status == "overdue" and st.doubt is None


def test_a_late_done_with_no_outbound_record_before_it_is_doubtful():
    later = contact("c2", t(2, 10), events=[said("confirmed", "c2", t(2, 10, 1), "всё заработало")])
    st = status(item(), [later], AS_OF, GRACE, tz=MSK, outbound=[t(2, 12)])  # recorded only after the fix
    assert st.status == "late" and "between 2026-11-23 10:16 and 2026-11-24 10:01" in st.doubt


def test_a_commitment_timed_only_by_the_files_mtime_is_not_charged(rule):
    it = replace(item(), timed_by_metadata=False)
    st = status(it, [], AS_OF, GRACE, tz=MSK, outbound=OUT_ELSEWHERE)
    assert st.status == "overdue" and "only by its file's mtime" in st.doubt
    assert charge(rule, it, st, MSK)["passed"] is None


def test_a_later_call_timed_only_by_the_files_mtime_is_a_doubt():
    loose = replace(contact("c2", t(2, 11), events=[said("confirmed", "c2", t(2, 11, 1), "всё работает")]),
                    timed_by_metadata=False)
    st = status(item(), [loose], AS_OF, GRACE, tz=MSK, outbound=OUT_ELSEWHERE)
    assert st.status == "late" and "c2 at 2026-11-24 11:00" in st.doubt
