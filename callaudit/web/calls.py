"""The review queue (/), a call's page (/calls/{id}) with its recording and clips, and the decisions taken
there: HR confirms or dismisses and decides appeals, the agent acknowledges or appeals."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from callaudit import periods
from callaudit.errors import CallauditError
from callaudit.reports.redact import redact_result
from callaudit.store import accounts, reviews, workspace
from callaudit.store.accounts import ADMIN, AGENT, DECIDERS, HR
from callaudit.store.schema import CallRow, utcnow
from callaudit.web import media
from callaudit.web.auth import NotFound, Page, page
from callaudit.web.render import render


def _int(text: str | None, default: int = 1) -> int:
    try:
        return max(1, min(int(text or default), 100000))
    except ValueError:
        return default


@page()
def queue(p: Page) -> Response:
    q = p.request.query_params
    error, start, end = "", None, None
    period = (q.get("period") or "").strip()[:60]
    if period:
        try:
            per = periods.parse(period)
            start, end = per.start, per.end
        except CallauditError as e:
            error = str(e)
    state = q.get("state") or ""
    f = workspace.QueueFilters(start, end, department=(q.get("department") or "")[:200],
                               agent=(q.get("agent") or "")[:32], rule=(q.get("rule") or "")[:64],
                               state=state if state in workspace.STATES else "",
                               flagged_only=q.get("show") != "all", page=_int(q.get("page")))
    rows, total = workspace.queue(p.s, p.user, f)
    pages = max(1, -(-total // workspace.PAGE))
    keep = {k: v for k, v in q.items() if k != "page"}
    return render(p, "queue.html", rows=rows, total=total, f=f, period=period, error=error, pages=pages,
                  choices=workspace.choices(p.s, p.user), states=workspace.STATES, keep=keep)


def visible_call(p: Page, public_id: str) -> CallRow:
    call = workspace.find_visible_call(p.s, p.user, public_id)
    if call is None or call.current_score is None:
        raise NotFound()
    return call


def call_view(p: Page, call: CallRow) -> dict:
    """What the call page shows: the masked verdict, each failed finding's decision in force, the
    turns holding evidence, the history, and what this viewer may do."""
    score = call.current_score
    verdict = redact_result(score.verdict, p.web.redactor)
    decisions = reviews.history(p.s, [call.id]).get(call.id, [])
    findings = []
    for f in verdict["findings"]:
        f = dict(f)
        f["review"] = reviews.in_force(decisions, f["rule"], score.id) if f["status"] == "failed" else None
        f["shown"] = "dismissed" if f["review"] == reviews.DISMISSED else f["status"]
        spans = [e for e in f.get("evidence", []) if e.get("start") is not None]
        f["seek"] = f["at"] if f.get("at") is not None else (spans[0]["start"] if spans else None)
        findings.append(f)
    failed = [f for f in findings if f["status"] == "failed"]
    hits = []
    for turn in verdict["transcript"]:
        hits.append(sorted({f["rule"] for f in failed for e in f.get("evidence", [])
                            if e.get("start") is not None and e["start"] < turn["end"] and e["end"] > turn["start"]}))
    own = p.user.role == AGENT and bool(p.user.extension) and p.user.extension == call.extension
    deadline = reviews.appeal_deadline(call, p.web.config.policy.appeal_days)
    pending = reviews.pending_appeal(p.s, call)
    return {"call": call, "score": score, "verdict": verdict, "findings": findings, "failed": failed,
            "turns": list(zip(verdict["transcript"], hits)), "decisions": decisions, "own": own,
            "deadline": deadline, "open": own and deadline is not None and utcnow() <= deadline,
            "pending": pending, "decider": p.user.role in DECIDERS, "agent": call.agent}


@page()
def call_page(p: Page) -> Response:
    call = visible_call(p, p.request.path_params["call_id"])
    accounts.log_view(p.s, p.user, accounts.CALL_PAGE, call.id, "", p.address)
    return render(p, "call.html", **call_view(p, call))


def _audio_or_404(p: Page, make) -> bytes:
    try:
        return make()
    except CallauditError:
        raise NotFound() from None


def serve_recording(p: Page, call: CallRow, what: str = "") -> Response:
    """The call's recording, ranged; an opening (not a seek) goes to the view log."""
    score = call.current_score
    body = _audio_or_404(p, lambda: media.recording(call, score, p.web.redactor))
    response, opening = media.ranged(body, p.request.headers.get("range"), f"{call.public_id}.wav")
    if opening:
        accounts.log_view(p.s, p.user, accounts.RECORDING, call.id, what, p.address)
    return response


@page()
def recording(p: Page) -> Response:
    return serve_recording(p, visible_call(p, p.request.path_params["call_id"]))


@page()
def clip(p: Page) -> Response:
    call = visible_call(p, p.request.path_params["call_id"])
    rule = p.request.path_params["rule"]
    finding = next((f for f in call.current_score.findings if f.rule == rule and f.passed is False), None)
    if finding is None:
        raise NotFound()
    score = call.current_score
    body = _audio_or_404(p, lambda: media.clip(call, score, p.web.redactor, finding.at or 0.0))
    response, opening = media.ranged(body, p.request.headers.get("range"), f"{call.public_id}-{rule}.wav")
    if opening:
        accounts.log_view(p.s, p.user, accounts.CLIP, call.id, rule, p.address)
    return response


def _back(call: CallRow, anchor: str = "history") -> Response:
    return RedirectResponse(f"/calls/{call.public_id}#{anchor}", status_code=303)


@page(HR, ADMIN, write=True)
def review(p: Page) -> Response:
    """HR confirms or dismisses one failed finding, or the whole call, with a note. The author is the
    session's account; nothing in the form can name another."""
    call = visible_call(p, p.request.path_params["call_id"])
    decision = {"confirm": reviews.CONFIRMED, "dismiss": reviews.DISMISSED}.get(p.field("decision"))
    if decision is None:
        raise CallauditError("say confirm or dismiss")
    finding = p.field("finding", 64) or None
    reviews.review(p.s, call, decision, p.user, p.field("note"), None if finding == reviews.ALL_FINDINGS else finding)
    return _back(call)


@page(AGENT, write=True)
def appeal(p: Page) -> Response:
    call = visible_call(p, p.request.path_params["call_id"])
    finding = p.field("finding", 64) or None
    reviews.appeal(p.s, call, p.user, p.field("note"), p.web.config.policy.appeal_days,
                   None if finding == reviews.ALL_FINDINGS else finding)
    return _back(call)


@page(AGENT, write=True)
def acknowledge(p: Page) -> Response:
    call = visible_call(p, p.request.path_params["call_id"])
    reviews.acknowledge(p.s, call, p.user, p.field("note"), p.web.config.policy.appeal_days)
    return _back(call)


@page(HR, ADMIN, write=True)
def decide_appeal(p: Page) -> Response:
    call = visible_call(p, p.request.path_params["call_id"])
    outcome = p.field("outcome")
    if outcome not in ("upheld", "rejected"):
        raise CallauditError("say whether the appeal is upheld or rejected")
    reviews.decide_appeal(p.s, call, p.user, outcome == "upheld", p.field("reason"))
    return _back(call)
