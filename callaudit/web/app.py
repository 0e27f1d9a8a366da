"""The workspace as one Starlette application: routes, static files, security headers.

`create_app(config, store)` is all `callaudit serve` (and the tests) need; uvicorn serves it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from callaudit.config import Config
from callaudit.errors import CallauditError
from callaudit.reports.redact import Redactor
from callaudit.store.db import Store
from callaudit.web import calibration, calls, login, people
from callaudit.web.auth import Web
from callaudit.web.i18n import translator
from callaudit.web.render import STATIC, SecurityHeaders, error_page

GET, POST = ["GET"], ["POST"]
ROUTES = [
    Route("/login", login.login, methods=["GET", "POST"]),
    Route("/logout", login.logout_page, methods=GET),
    Route("/logout", login.logout, methods=POST),
    Route("/", calls.queue, methods=GET),
    Route("/calls/{call_id}", calls.call_page, methods=GET),
    Route("/calls/{call_id}/audio", calls.recording, methods=GET),
    Route("/calls/{call_id}/clips/{rule}", calls.clip, methods=GET),
    Route("/calls/{call_id}/review", calls.review, methods=POST),
    Route("/calls/{call_id}/appeal", calls.appeal, methods=POST),
    Route("/calls/{call_id}/acknowledge", calls.acknowledge, methods=POST),
    Route("/calls/{call_id}/appeal-decision", calls.decide_appeal, methods=POST),
    Route("/agents/{extension}", people.agent, methods=GET),
    Route("/department", people.department, methods=GET),
    Route("/listen-ins", people.listen_ins, methods=GET),
    Route("/view-log", people.view_log, methods=GET),
    Route("/account", people.account, methods=["GET", "POST"]),
    Route("/calibration", calibration.index, methods=["GET", "POST"]),
    Route("/calibration/{session_id}", calibration.session, methods=GET),
    Route("/calibration/{session_id}/calls/{call_id}", calibration.judge, methods=["GET", "POST"]),
    Route("/calibration/{session_id}/calls/{call_id}/audio", calibration.audio, methods=GET),
    Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
]


def secret_of(cfg: Config) -> tuple[str, str]:
    """(the key that signs cookies, where it came from). Never printed."""
    web = cfg.web
    if web.secret_file:
        try:
            key = Path(web.secret_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise CallauditError(f"[web] secret_file {web.secret_file}: cannot read it ({e.strerror})") from None
        if len(key) < 16:
            raise CallauditError(f"[web] secret_file {web.secret_file}: the key is too short (at least 16 characters)")
        return key, f"from {web.secret_file}"
    if web.secret_key:
        if len(web.secret_key) < 16:
            raise CallauditError("[web] secret_key is too short (at least 16 characters; its value is not shown)")
        return web.secret_key, "from [web] secret_key"
    return secrets.token_urlsafe(32), "new at this start (set [web] secret_file to keep sessions across restarts)"


def create_app(cfg: Config, store: Store) -> Starlette:
    """The workspace on an open, migrated store."""
    secret, _ = secret_of(cfg)
    web = Web(store=store, settings=cfg.web, secret=secret, config=cfg, t=translator(cfg.web.language),
              redactor=Redactor.from_config(cfg))

    async def not_found(request, exc):
        return error_page(web, 404, web.t("not_found"), web.t("not_found_text"))

    async def refused_method(request, exc):
        return error_page(web, 405, web.t("forbidden"), "method not allowed")

    app = Starlette(routes=ROUTES, exception_handlers={404: not_found, 405: refused_method})
    app.state.web = web
    app.add_middleware(SecurityHeaders)
    return app
