"""The pieces every page shares: escaped templates, who is signed in, CSRF checks, and strict security headers.

Model outputs and annotator text are untrusted. Templates autoescape everything (no `|safe` anywhere), text is
shown with `white-space: pre-wrap` instead of being rendered as Markdown or HTML, and the Content-Security-Policy
allows no inline script, so even a payload that slipped through escaping would not run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader

from chatrecipe.annotate.security import COOKIE, Identity

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def identity(request: Request) -> Identity | None:
    return request.app.state.signer.identity(request.cookies.get(COOKIE))


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    who = identity(request)
    csrf = request.app.state.signer.csrf(who.cookie) if who else None
    html = _env.get_template(name).render(request=request, who=who, csrf=csrf, who_name=context.pop("who_name", None),
                                          **context)
    return HTMLResponse(html, status_code=status)


def _require(request: Request, kind: str, refusal: str) -> Identity:
    """The signed-in identity if it is of `kind`; else to the sign-in page (nobody) or 403 (the other kind)."""
    who = identity(request)
    if who is None:
        raise HTTPException(303, headers={"Location": "/login"})
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
