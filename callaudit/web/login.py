"""/login and /logout: the two doors. Login is throttled per account and per address (the store keeps
the attempts, so every server and restart counts them) and carries its own CSRF token (a signed
double-submit cookie: there is no session yet)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from callaudit.errors import CallauditError
from callaudit.store import accounts
from callaudit.store.schema import utcnow
from callaudit.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Page,
    Web,
    _signed_token,
    login_nonce_ok,
    new_login_nonce,
    page,
    safe_next,
)
from callaudit.web.render import bare, error_page, render


def _login_form(web: Web, request: Request, status: int = 200, error: str = "", name: str = "") -> Response:
    nonce, cookie = new_login_nonce(web)
    response = bare(web, "login.html", status, nonce=nonce, error=error, name=name,
                    next=safe_next(request.query_params.get("next")))
    web.set_cookie(response, request, LOGIN_COOKIE, cookie, 3600)
    return response


def _show(request: Request) -> Response:
    web: Web = request.app.state.web
    with web.store.session() as s:
        token = _signed_token(web, request)
        if token and accounts.session_for(s, token):
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_form(web, request)


def _try(request: Request, form: dict) -> Response:
    web: Web = request.app.state.web
    if not login_nonce_ok(web, request, form.get("csrf")):
        return error_page(web, 403, web.t("forbidden"), "the login form's security token is missing or wrong: "
                                                        "reload the page and try again")
    name, password = (form.get("name") or "")[:accounts.NAME_CHARS], form.get("password") or ""
    limits = accounts.Throttle(web.settings.throttle_attempts, web.settings.throttle_address_attempts,
                               web.settings.throttle_minutes)
    refused = None
    with web.store.session() as s:
        try:
            user = accounts.authenticate(s, name, password[:accounts.MAX_PASSWORD], web.address(request), limits)
            token, _ = accounts.open_session(s, user, web.address(request), web.settings.session_minutes)
        except accounts.AuthError as e:  # caught inside: the failed try is committed and counted
            refused = e
        except CallauditError:  # no name at all, or one no account can have
            refused = accounts.AuthError("wrong name or password")
    if refused is not None:
        throttled = isinstance(refused, accounts.Throttled)
        text = str(refused) if throttled or "disabled" in str(refused) else web.t("wrong")
        return _login_form(web, request, 429 if throttled else 401, text, name)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    web.set_cookie(response, request, SESSION_COOKIE, web.signer.dumps(token), web.settings.session_minutes * 60)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


async def login(request: Request) -> Response:
    if request.method == "POST":
        raw = await request.form(max_fields=10, max_files=0)
        form = {k: v for k, v in raw.items() if isinstance(v, str)}
        return await run_in_threadpool(_try, request, form)
    return await run_in_threadpool(_show, request)


@page()
def logout_page(p: Page) -> Response:
    return render(p, "logout.html")


@page(write=True)
def logout(p: Page) -> Response:
    p.session.ended_at = utcnow()  # the cookie is worthless from now on, even if someone kept a copy
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
