"""Who is asking: the signed session cookie (or a trusted proxy's user header), the CSRF check on every
request that changes something, and the `page` decorator every route goes through.

A request without a live session is sent to /login; a role the page is not for gets 404, as if the page
did not exist; a POST whose CSRF token is missing or wrong gets 403 and stores nothing (the check runs
before the route's code, inside a transaction that is then rolled back).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from callaudit.config.sections import WebSettings
from callaudit.errors import CallauditError
from callaudit.store import accounts
from callaudit.store.db import Store
from callaudit.store.schema import UserRow, WebSessionRow

SESSION_COOKIE, LOGIN_COOKIE = "callaudit_session", "callaudit_login"
MAX_FORM_FIELDS = 200


class NotFound(Exception):
    """404: missing, or not this viewer's to see."""


class Refused(Exception):
    """403 with a reason (a missing or wrong CSRF token, an account the proxy named but callaudit does not know)."""


@dataclass
class Web:
    """What every request needs: the store, the settings, the signer, the redactor, the translator."""

    store: Store
    settings: WebSettings
    secret: str
    config: Any  # the whole Config: [policy], [redaction]
    t: Callable[[str], str]
    networks: list = field(default_factory=list)
    redactor: Any = None  # reports.redact.Redactor, from [redaction]

    def __post_init__(self) -> None:
        self.signer = URLSafeTimedSerializer(self.secret, salt="callaudit-session")
        self.login_signer = URLSafeTimedSerializer(self.secret, salt="callaudit-login")
        self.networks = [ipaddress.ip_network(p, strict=False) for p in self.settings.trusted_proxies]

    def from_proxy(self, request: Request) -> bool:
        host = request.client.host if request.client else ""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def address(self, request: Request) -> str:
        """The client's address: a trusted proxy's X-Forwarded-For (its last hop), else the peer's."""
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded and self.from_proxy(request):
            return forwarded.split(",")[-1].strip()[:64]
        return peer

    def secure(self, request: Request) -> bool:
        """Cookies get Secure over HTTPS, directly or as a trusted proxy says, or when configured."""
        if self.settings.secure_cookies or request.url.scheme == "https":
            return True
        return self.from_proxy(request) and request.headers.get("x-forwarded-proto", "") == "https"

    def set_cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                            secure=self.secure(request))


@dataclass
class Page:
    """One request, as a route sees it: the viewer, their session, the open store transaction."""

    request: Request
    web: Web
    s: Session
    user: UserRow
    session: WebSessionRow
    form: dict[str, str]
    cookies: list[tuple[str, str, int]] = field(default_factory=list)  # to set on the response

    @property
    def t(self):
        return self.web.t

    @property
    def address(self) -> str:
        return self.web.address(self.request)

    def field(self, name: str, limit: int = 4000) -> str:
        return (self.form.get(name) or "")[:limit]


def _signed_token(web: Web, request: Request) -> str:
    raw = request.cookies.get(SESSION_COOKIE, "")
    if not raw:
        return ""
    try:
        return web.signer.loads(raw, max_age=web.settings.session_minutes * 60)
    except BadSignature:
        return ""


def _resolve(web: Web, request: Request, s: Session) -> tuple[UserRow, WebSessionRow, list] | None:
    """The viewer from the session cookie, or from the trusted proxy's user header (which then opens a
    session of its own, so that forms get a CSRF token)."""
    token = _signed_token(web, request)
    live = accounts.session_for(s, token) if token else None
    header = web.settings.trusted_proxy_header
    if header and web.from_proxy(request) and request.headers.get(header):
        name = request.headers[header].strip()
        if live and live[1].name == name:
            return live[1], live[0], []
        try:
            user = accounts.find_user(s, name)
        except CallauditError:
            raise Refused(f"the proxy names account {name!r}, which callaudit does not know") from None
        if user.disabled:
            raise Refused(f"account {name!r} is disabled")
        token, row = accounts.open_session(s, user, web.address(request), web.settings.session_minutes)
        return user, row, [(SESSION_COOKIE, web.signer.dumps(token), web.settings.session_minutes * 60)]
    if live is None:
        return None
    return live[1], live[0], []


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def page(*roles: str, write: bool = False):
    """Wrap a route: `fn(page) -> Response` runs in a worker thread, in one store transaction, for a viewer
    whose role is in `roles` (all roles when empty). `write`: a POST that must carry the session's CSRF
    token as form field `csrf`."""
    def deco(fn: Callable[[Page], Response]):
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                raw = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
                form = {k: v for k, v in raw.items() if isinstance(v, str)}
            return await run_in_threadpool(_run, fn, request, form, roles, write)
        endpoint.__name__ = fn.__name__
        return endpoint
    return deco


def _run(fn, request: Request, form: dict, roles: tuple, write: bool) -> Response:
    from callaudit.web.render import error_page

    web: Web = request.app.state.web
    began = time.perf_counter()
    try:
        with web.store.session() as s:
            found = _resolve(web, request, s)
            if found is None:
                raise _Login()
            user, session, cookies = found
            if roles and user.role not in roles:
                raise NotFound()
            if (write or request.method == "POST") and not csrf_ok(session.csrf, form.get("csrf")):
                raise Refused("the form's security token is missing or wrong: reload the page and try again")
            p = Page(request, web, s, user, session, form, cookies)
            response = fn(p)
        for name, value, age in p.cookies:
            web.set_cookie(response, request, name, value, age)
        # How long the server worked on it, committed transaction included (bench/web.py reads this).
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.1f}"
        return response
    except _Login:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    except NotFound:
        return error_page(web, 404, web.t("not_found"), web.t("not_found_text"))
    except Refused as e:
        return error_page(web, 403, web.t("forbidden"), str(e))
    except CallauditError as e:
        return error_page(web, 400, web.t("error"), str(e))


class _Login(Exception):
    pass


def new_login_nonce(web: Web) -> tuple[str, str]:
    """(the nonce for the login form, the signed value of the cookie that must come back with it)."""
    nonce = secrets.token_urlsafe(24)
    return nonce, web.login_signer.dumps(nonce)


def login_nonce_ok(web: Web, request: Request, given: str | None) -> bool:
    try:
        expected = web.login_signer.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=3600)
    except BadSignature:
        return False
    return csrf_ok(expected, given)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never //elsewhere or a scheme (an open redirect after login)."""
    target = target or "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target or "\n" in target:
        return "/"
    return target
