"""Requests as people and scripts read them: the JSON of `requests list --json`, one line each for the
terminal, a customer's page, and the service-problems rows for the technical department's CSV.

Every quote is redacted (a customer may dictate a card number in a request) and every customer's
number masked as [redaction] says (sources.customers.mask_number); times are in the department's
timezone ([requests] timezone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callaudit.analysis.workhours import WorkingHours
from callaudit.reports.redact import Redactor
from callaudit.reports.shown import printable
from callaudit.sources.customers import mask_number

PROBLEM_FIELDS = ["id", "reported_at", "customer", "topics", "topic_titles", "quote", "call", "agent", "status",
                  "resolved", "resolved_at", "commitment", "due", "evidence"]
RESOLVED = ("fulfilled", "late", "closed")


class Shown:
    """How texts, numbers and times are shown: the redactor and the department's clock."""

    def __init__(self, redactor: Redactor, hours: WorkingHours, titles: dict[str, str] | None = None):
        self.redactor, self.hours, self.titles = redactor, hours, titles or {}

    @property
    def masked(self) -> bool:
        return self.redactor.enabled and "phone" in self.redactor.kinds

    def customer(self, key: str | None) -> str:
        return mask_number(key, masked=self.masked)

    def text(self, text: str | None) -> str:
        return self.redactor.text(text or "")

    def when(self, at: datetime | None) -> str | None:
        return self.hours.local(at).isoformat(timespec="minutes") if at else None

    def clock(self, at: datetime | None) -> str:
        return self.hours.local(at).strftime("%Y-%m-%d %H:%M") if at else "-"


def request_json(rec: dict[str, Any], shown: Shown) -> dict[str, Any]:
    """One stored request (store.requests.request_rows) in the form `requests list --json` prints."""
    r, st, call, facts = rec["row"], rec["status"], rec["call"], rec["facts"]
    asked = r.request or {}
    request = None
    if "quote" in asked:
        request = {"quote": shown.text(asked["quote"]), "at": shown.when(r.asked_at), "offset": asked.get("offset"),
                   "recognised": asked.get("status"), "topics": list(r.topics)}
    elif asked.get("context"):
        request = {"quote": None, "context": shown.text(asked["context"]), "at": shown.when(r.asked_at),
                   "recognised": "not recognised: the customer's words before the commitment are shown as context",
                   "topics": list(r.topics)}
    commitment = None
    if r.commitment:
        d = r.commitment["deadline"]
        commitment = {"quote": shown.text(r.commitment["quote"]), "at": shown.when(r.committed_at),
                      "offset": r.commitment.get("offset"), "recognised": r.commitment.get("status"),
                      "deadline_words": shown.text(d.get("quote")) or None, "explanation": d.get("explanation"),
                      "outside_hours": d.get("outside_hours")}
    evidence = [{"call": e["call"], "at": shown.when(datetime.fromisoformat(e["at"])), "offset": e.get("offset"),
                 "kind": e["kind"], "quote": shown.text(e.get("quote")), "who": e.get("who"),
                 "recognised": e.get("status"), "note": e.get("note")} for e in (st.evidence if st else [])]
    finding = dict(st.finding) if st and st.finding else None
    if finding:
        finding["quote"] = shown.text(finding.get("quote"))
    return {
        "id": r.public_id, "call": call.public_id, "call_time": shown.when(facts.started_at),
        "call_time_source": facts.start_source, "direction": facts.direction,
        "agent": r.agent, "customer": shown.customer(r.customer),
        "customer_note": None if r.customer else facts.customer_why,
        "kind": r.kind, "topics": list(r.topics), "request": request, "commitment": commitment,
        "due": shown.when(r.due), "due_source": r.due_source,
        "status": st.status if st else "not computed yet (run `callaudit requests refresh`)",
        "fulfilled_at": shown.when(st.fulfilled_at) if st else None,
        "doubt": st.doubt if st else None, "as_of": shown.when(st.as_of) if st else None,
        "charged": st.charged if st else None, "finding": finding, "evidence": evidence,
    }


def _cut(text: str | None, n: int) -> str:
    text = printable(text or "")
    return text if len(text) <= n else text[:n - 1] + "…"


def request_line(j: dict[str, Any]) -> list[str]:
    """A request for the terminal: one head line, then its words and what became of it."""
    due = (j["due"] or "-")[:16].replace("T", " ")
    src = f" ({j['due_source']})" if j["due_source"] else ""
    # A late or overdue with a doubt is charged to nobody: say so, not merely that it is unsure.
    judged = j["status"] in ("late", "overdue")
    doubt = ("  NOT EVALUATED (not charged)" if judged else "  UNSURE") if j["doubt"] else ""
    head = (f"{j['id']}  {j['status']:16} due {due}{src:10} agent {j['agent'] or '?':6} "
            f"{j['customer']:20} call {j['call']}{doubt}")
    out = [head]
    if j["request"]:
        words = j["request"]["quote"] or f"(not recognised; before it: {j['request']['context']})"
        out.append(f"    asked:     {_cut(words, 100)}")
    if j["commitment"]:
        out.append(f"    promised:  {_cut(j['commitment']['quote'], 100)}")
    for e in j["evidence"]:
        if e["kind"] in ("request", "problem", "commitment"):
            continue
        at = (e["at"] or "")[:16].replace("T", " ")
        words = f" «{_cut(e['quote'], 70)}»" if e["quote"] else ""
        out.append(f"    {at}  {e['kind']}: {_cut(e['note'], 90)}{words}")
    if j["doubt"]:
        out.append(f"    {'not evaluated, because' if judged else 'unsure'}: {_cut(j['doubt'], 200)}")
    if j["customer_note"]:
        out.append(f"    {_cut(j['customer_note'], 140)}")
    return out


def problem_row(j: dict[str, Any], shown: Shown, problem_topics: tuple[str, ...]) -> dict[str, Any]:
    """A reported service problem for the technical department's CSV (one row per problem)."""
    topics = [t for t in j["topics"] if t in problem_topics]
    resolved = j["status"] in RESOLVED
    chain = "; ".join(f"{(e['at'] or '')[:16].replace('T', ' ')} {e['kind']} (call {e['call'] or '-'})"
                      + (f": {e['quote']}" if e["quote"] else "") for e in j["evidence"])
    quote = j["request"]["quote"] if j["request"] and j["request"]["quote"] else ""
    return {"id": j["id"], "reported_at": j["request"]["at"] if j["request"] else j["call_time"],
            "customer": j["customer"], "topics": ";".join(topics),
            "topic_titles": ";".join(shown.titles.get(t, t) for t in topics), "quote": quote, "call": j["call"],
            "agent": j["agent"] or "", "status": j["status"], "resolved": resolved,
            "resolved_at": j["fulfilled_at"] or "", "commitment": j["commitment"]["quote"] if j["commitment"] else "",
            "due": j["due"] or "", "evidence": chain}
