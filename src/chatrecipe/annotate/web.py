"""The pieces every page shares: escaped templates, who is signed in, CSRF checks, strict security headers, and
bounded form bodies.

Model outputs and annotator text are untrusted. Templates autoescape everything (no `|safe` anywhere), text is
shown with `white-space: pre-wrap` instead of being rendered as Markdown or HTML, and the Content-Security-Policy
allows no inline script, so even a payload that slipped through escaping would not run.

Text fields are limited (MAX_TEXT characters, also the textareas' maxlength) and never cut: an over-long text
is refused with the form shown again, the text still in it. So the form must be read whole even when it is over
Starlette's 1 MiB per field; what bounds memory instead is a cap on the whole body (BodyLimit), far above what
MAX_TEXT characters can take.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from chatrecipe.annotate.security import COOKIE, Identity
from chatrecipe.annotate.sessions import find_session

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

MAX_TEXT = 50_000  # characters in one text field (as a browser counts them: a line break is one)
MAX_FORM_BYTES = 4 * 1024 * 1024  # one form's body; MAX_TEXT characters take at most 600 kB percent-encoded
MAX_FORM_FIELDS = 100

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True, lstrip_blocks=True)


class SessionAndHeaders:
    """ASGI middleware: who is signed in, looked up once per request off the event loop (it reads the database),
    and the security headers on every answer. Plain ASGI rather than BaseHTTPMiddleware, whose task group would
    wrap an exception raised while the body is read (BodyTooLarge) and hide it from the exception handlers."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        cookie = request.cookies.get(COOKIE)
        if cookie and not scope["path"].startswith("/static/"):
            state = request.app.state
            request.state.who = await run_in_threadpool(find_session, state.sessions, state.signer, cookie)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def identity(request: Request) -> Identity | None:
    return getattr(request.state, "who", None)


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    who = identity(request)
    csrf = request.app.state.signer.csrf(who.cookie) if who else None
    html = _env.get_template(name).render(request=request, who=who, csrf=csrf, who_name=context.pop("who_name", None),
                                          max_text=MAX_TEXT, **context)
    return HTMLResponse(html, status_code=status)


async def read_form(request: Request):
    """The posted form, read whole up to the body cap (Starlette's own 1 MiB per field would lose the text)."""
    return await request.form(max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES)


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"the form is over {limit // (1024 * 1024)} MiB; nothing was stored")
        self.limit = limit


class BodyLimit:
    """ASGI middleware: a request body over `limit_for(path)` bytes raises BodyTooLarge while it is being read.

    Before the refusal goes out, the rest of the body is read and dropped (up to `drain` bytes), so the client,
    still sending, gets the answer instead of a reset connection.
    """

    def __init__(self, app, limit_for, drain: int = 64 * 1024 * 1024):
        self.app, self.limit_for, self.drain = app, limit_for, drain

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, seen, state = self.limit_for(scope["path"]), 0, {"over": False, "more": True}
        declared = dict(scope["headers"]).get(b"content-length", b"")

        async def counted():
            nonlocal seen
            if declared.isdigit() and int(declared) > limit:
                state["over"] = True
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                state["more"] = message.get("more_body", False)
                if seen > limit:
                    state["over"] = True
                    raise BodyTooLarge(limit)
            return message

        async def answer(message):
            if message["type"] == "http.response.start" and state["over"]:
                dropped = 0
                while state["more"] and dropped < self.drain:
                    chunk = await receive()
                    dropped += len(chunk.get("body", b""))
                    state["more"] = chunk["type"] == "http.request" and chunk.get("more_body", False)
            await send(message)

        await self.app(scope, counted, answer)


def _require(request: Request, kind: str, refusal: str) -> Identity:
    """The signed-in identity if it is of `kind`; else to the sign-in page (nobody) or 403 (the other kind)."""
    who = identity(request)
    if who is None:
        ended = request.cookies.get(COOKIE) is not None  # a cookie that no longer signs anyone in: say why
        raise HTTPException(303, headers={"Location": "/login?error=session-ended" if ended else "/login"})
    if who.kind != kind:
        raise HTTPException(403, refusal)
    return who


def require_annotator(request: Request) -> Identity:
    return _require(request, "annotator", "this page is for annotators; the admin works from /admin")


def require_admin(request: Request) -> Identity:
    return _require(request, "admin", "admin pages need the admin token")


def check_csrf(request: Request, form) -> None:
    """Refuse a form post whose CSRF token does not belong to this session (another site posting for the user)."""
    if not request.app.state.signer.check_csrf(request.cookies.get(COOKIE), form.get("csrf")):
        raise HTTPException(403, "the form's security token is missing or stale; reload the page and submit again")
