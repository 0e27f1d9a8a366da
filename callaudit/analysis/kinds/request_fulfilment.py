"""request-fulfilment: a commitment the agent made is kept in time — judged across calls.

One call cannot show it: whether «перезвоню до пяти» was kept lies in the calls after it. So the
per-call Judge passes this kind by (Kind.cross_call), and it is judged when requests' statuses are
recomputed after each batch (jobs/requests.py): each commitment's status (analysis.fulfilment) becomes
a finding charged to the agent who made the commitment — failed for the statuses in `statuses`
(overdue, late), passed when fulfilled, not evaluated when the status carries a doubt. Its cases are
calls over days (tests/test_fulfilment.py and the test series), not one call's timed turns.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from callaudit.analysis.findings import result
from callaudit.analysis.kinds.base import Kind, Problems

if TYPE_CHECKING:
    from callaudit.analysis.fulfilment import Item, Status
    from callaudit.analysis.rulepack import Rule

CHARGEABLE = ("overdue", "late")


def check(p: dict) -> Problems:
    bad = [s for s in p.get("statuses", []) if s not in CHARGEABLE]
    if bad or not p.get("statuses"):
        return [("statuses", f"statuses must list some of {', '.join(CHARGEABLE)}, got {p.get('statuses')!r}")]
    return []


def judge(rule, tl, company):
    return result(rule, None, None, "not evaluated in one call: judged across calls (callaudit requests list)")


def charge(rule: "Rule", item: "Item", st: "Status", tz: tzinfo | None = None) -> dict[str, Any] | None:
    """The rule's verdict on one commitment's status, for the agent who made it; None when there is nothing
    to judge yet (open, no commitment, closed by a person, customer unknown)."""
    if item.commitment is None or st.status in ("open", "no-commitment", "closed", "customer-unknown"):
        return None
    due = item.due.astimezone(tz).strftime("%Y-%m-%d %H:%M") if item.due else "?"
    said = f"the commitment was due {due} ({item.due_source})"  # its words are in "quote": redacted when shown
    if st.status in rule.params["statuses"]:
        if st.doubt:
            passed, detail = None, f"not evaluated: {st.doubt} (heard: {st.status}, {said})"
        else:
            # "as of" only where it is the verdict's ground: a late one stays late whenever it is recomputed
            # (a rescore, a later batch), and its finding must not look changed then.
            kept = (f", done {st.fulfilled_at.astimezone(tz):%Y-%m-%d %H:%M}" if st.fulfilled_at else
                    f", not done (as of {st.as_of.astimezone(tz):%Y-%m-%d %H:%M})")
            passed, detail = False, f"{st.status}: {said}{kept}"
    else:
        kept = st.fulfilled_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if st.fulfilled_at else "?"
        passed, detail = True, f"{st.status} at {kept}: {said}"
    return {"rule": rule.id, "title": rule.title, "severity": rule.severity, "weight": rule.weight,
            "passed": passed, "status": {True: "passed", False: "failed", None: "not evaluated"}[passed],
            "detail": detail, "quote": item.commitment.quote, "call": item.call, "at": item.commitment.offset,
            "agent": item.agent}


KIND = Kind("request-fulfilment", {"statuses": (list, ["overdue", "late"])}, judge, check,
            role_bound=False, cross_call=True)
