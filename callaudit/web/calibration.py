"""/calibration: reviewers judge a sample of calls blind (the tool's verdicts hidden until they submit
theirs), then agreement and Cohen's kappa per rule, tool vs people and person vs person."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from callaudit.errors import CallauditError
from callaudit.reports.calibrate import compare
from callaudit.reports.redact import redact_result
from callaudit.store import accounts, workspace
from callaudit.store import calibration as cal
from callaudit.store.accounts import ADMIN, HR
from callaudit.store.schema import CalibrationRow, CallRow
from callaudit.web.auth import NotFound, Page, page
from callaudit.web.calls import serve_recording
from callaudit.web.render import render


def _session(p: Page) -> CalibrationRow:
    try:
        row = p.s.get(CalibrationRow, int(p.request.path_params["session_id"]))
    except ValueError:
        row = None
    if row is None:
        raise NotFound()
    return row


def _call(p: Page, session: CalibrationRow) -> CallRow:
    try:
        call = p.s.get(CallRow, int(p.request.path_params["call_id"]))
    except ValueError:
        call = None
    if call is None or call.id not in session.call_ids or call.current_score is None \
            or call.id not in workspace.visible_ids(p.s, p.user, [call.id]):
        raise NotFound()  # a supervisor judges only the calls of the sample they may see
    return call


@page(*cal.CALIBRATORS)
def index(p: Page) -> Response:
    if p.request.method == "POST":
        if p.user.role not in (ADMIN, HR):
            raise NotFound()
        size = p.field("size", 4)
        row = cal.create(p.s, p.user, p.field("name", 200), int(size) if size.isdigit() else 0)
        return RedirectResponse(f"/calibration/{row.id}", status_code=303)
    rows = [(r, len(cal.done_by(p.s, r.id, p.user.id))) for r in cal.sessions(p.s)]
    return render(p, "calibration.html", sessions=rows, can_create=p.user.role in (ADMIN, HR))


@page(*cal.CALIBRATORS)
def session(p: Page) -> Response:
    row = _session(p)
    done = cal.done_by(p.s, row.id, p.user.id)
    mine = workspace.visible_ids(p.s, p.user, list(row.call_ids))
    calls = [p.s.get(CallRow, i) for i in row.call_ids if i in mine]
    finished = all(c.id in done for c in calls if c is not None)
    tool = people = []
    if finished:  # the figures reveal the tool's verdicts: only for a reviewer who has judged every call
        tool_pairs, person_pairs = cal.pairs(p.s, row)
        tool, people = compare(tool_pairs), compare(person_pairs) if person_pairs else []
    return render(p, "calibration_session.html", session=row, calls=[c for c in calls if c], done=done,
                  finished=finished, tool=tool, people=people, reviewers=cal.reviewers(p.s, row))


@page(*cal.CALIBRATORS)
def judge(p: Page) -> Response:
    row = _session(p)
    call = _call(p, row)
    error = ""
    if p.request.method == "POST":
        verdicts = {f.rule: p.field(f"rule:{f.rule}", 8) for f in cal.rules_of(call)}
        try:
            cal.submit(p.s, row, call, p.user, verdicts)  # checks everything before it adds a row
            return RedirectResponse(f"/calibration/{row.id}/calls/{call.id}", status_code=303)
        except CallauditError as e:
            error = str(e)
    done = call.id in cal.done_by(p.s, row.id, p.user.id)
    mine = cal.verdicts_of(p.s, row.id, call.id, p.user.id) if done else {}
    if not done:
        accounts.log_view(p.s, p.user, accounts.CALL_PAGE, call.id, f"calibration {row.id}", p.address)
    transcript = redact_result(call.current_score.verdict, p.web.redactor)["transcript"]
    position = row.call_ids.index(call.id)
    following = row.call_ids[position + 1] if position + 1 < len(row.call_ids) else None
    return render(p, "calibration_call.html", session=row, call=call, rules=cal.rules_of(call), done=done,
                  mine=mine, transcript=transcript, error=error, following=following, position=position + 1)


@page(*cal.CALIBRATORS)
def audio(p: Page) -> Response:
    row = _session(p)
    return serve_recording(p, _call(p, row), f"calibration {row.id}")
