"""Templates (Jinja2, autoescaped: every transcript line and name is text, never markup) and the
security headers every response carries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# No inline script anywhere: a transcript that smuggled markup past the escaping still could not run.
# Inline styles are allowed for the server-rendered SVG charts (pygal puts a <style> in each).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "x-frame-options": "DENY",
           "referrer-policy": "same-origin"}

env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True,
                  default_for_string=True), trim_blocks=True, lstrip_blocks=True)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(float(seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


def local(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return when.astimezone().strftime(fmt) if when else ""


env.filters["clock"] = clock
env.filters["local"] = local


def render(p, template: str, status: int = 200, **data) -> HTMLResponse:
    """A page for the viewer of request `p`."""
    html = env.get_template(template).render(t=p.t, user=p.user, csrf=p.session.csrf, path=p.request.url.path,
                                         lang=p.web.settings.language, **data)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def bare(web, template: str, status: int = 200, **data) -> HTMLResponse:
    """A page for nobody in particular (login, errors)."""
    html = env.get_template(template).render(t=web.t, user=None, csrf="", path="", lang=web.settings.language, **data)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def error_page(web, status: int, title: str, text: str) -> HTMLResponse:
    return bare(web, "error.html", status, title=title, text=text, code=status)


class SecurityHeaders:
    """ASGI middleware: the headers above on every response, pages and files alike."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in have]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)
        return await self.app(scope, receive, sending)
