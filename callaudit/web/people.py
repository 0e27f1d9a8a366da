"""Pages about people: an agent's record (/agents/{extension}), the department (/department), the
listen-in audit (/listen-ins), the view log (/view-log, admins) and one's own account (/account)."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from callaudit.errors import CallauditError
from callaudit.reports.hrdata import recommend
from callaudit.store import accounts, workspace
from callaudit.store.accounts import ADMIN, HR, SUPERVISOR
from callaudit.store.schema import utcnow
from callaudit.web import charts
from callaudit.web.auth import NotFound, Page, page
from callaudit.web.render import render


@page()
def agent(p: Page) -> Response:
    row = workspace.can_see_agent(p.s, p.user, p.request.path_params["extension"][:32])
    if row is None:
        raise NotFound()
    policy = p.web.config.policy
    summary = workspace.agent_summary(p.s, p.user, row, tuple(policy.severities), policy.window_days, utcnow())
    ids = {r.id for r in summary.recent}
    return render(p, "agent.html", agent=row, summary=summary, recommendation=recommend(summary.offences, policy),
                  chart=charts.trend(summary.trend, p.t("trend")) if summary.trend else "", ids=ids)


@page(ADMIN, HR, SUPERVISOR)
def department(p: Page) -> Response:
    q = p.request.query_params
    # A supervisor sees their own department; hr and admin choose one, or all.
    chosen = p.user.department if p.user.role == SUPERVISOR else (q.get("department") or "")[:200]
    weeks = q.get("weeks") or "26"
    since = utcnow() - timedelta(weeks=int(weeks)) if weeks.isdigit() and int(weeks) > 0 else None
    stats = workspace.department_stats(p.s, p.user, chosen, since)
    return render(p, "department.html", stats=stats, chosen=chosen, weeks=weeks,
                  departments=workspace.choices(p.s, p.user)["departments"],
                  weekly=charts.weekly(stats.weeks, p.t("weekly")) if stats.weeks else "",
                  share=charts.flagged_share(stats.weeks, p.t("share_flagged")) if stats.weeks else "",
                  rules=charts.top_rules(stats.top_rules, p.t("most_failed")) if stats.top_rules else "")


@page(ADMIN, HR, SUPERVISOR)
def listen_ins(p: Page) -> Response:
    rows = workspace.listen_ins(p.s, p.user)
    return render(p, "listen_ins.html", rows=rows,
                  calls=workspace.public_ids(p.s, [r.call_id for r in rows if r.call_id]))


@page(ADMIN)
def view_log(p: Page) -> Response:
    q = p.request.query_params
    who = (q.get("user") or "")[:200]
    rows = accounts.views(p.s, 500, 0, who or None)
    return render(p, "view_log.html", rows=rows, who=who,
                  calls=workspace.public_ids(p.s, [r.call_id for r in rows if r.call_id]))


@page()
def account(p: Page) -> Response:
    saved, error = False, ""
    if p.request.method == "POST":
        # Only the password can change here: role, extension and department are the administrator's
        # (`callaudit users`), whatever fields a form sends.
        try:
            if not accounts.verify_password(p.user, p.field("current", accounts.MAX_PASSWORD)):
                raise CallauditError(p.t("wrong"))
            accounts.set_password(p.s, p.user, p.field("new", accounts.MAX_PASSWORD + 1), keep=p.session.id)
            saved = True
        except CallauditError as e:
            error = str(e)
    return render(p, "account.html", saved=saved, error=error)

