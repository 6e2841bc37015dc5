"""The annotation web app: server-rendered pages on FastAPI, storage in SQLAlchemy, no JavaScript build step.

Run as: `CHATRECIPE_ADMIN_TOKEN=... chatrecipe annotate serve --db annotate.db` (or `--db postgresql://...`).

This module wires the app and holds sign-in and the annotator's home page; the task pages live in `tasks.py`
and the admin's in `admin.py`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Callable, Sequence

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from chatrecipe.annotate.admin import MAX_UPLOAD
from chatrecipe.annotate.keys import load_secret
from chatrecipe.annotate.projects import hash_token
from chatrecipe.annotate.ratelimit import RateLimiter, device_cookie, sign_in_source
from chatrecipe.annotate.security import (COOKIE, DEVICE_COOKIE, DEVICE_SECONDS, PRE_COOKIE, SESSION_SECONDS, Signer,
                                          admin_token_matches)
from chatrecipe.annotate.sessions import end_session, start_session
from chatrecipe.annotate.store import (Annotator, Assignment, Item, Project, make_engine, make_sessionmaker,
                                      open_to_others)
from chatrecipe.annotate.web import (MAX_FORM_BYTES, MAX_TEXT, STATIC, BodyLimit, BodyTooLarge, SessionAndHeaders,
                                     check_csrf, identity, read_form, render, require_annotator)

# what /login?error=KEY may say: a fixed list, so a link cannot put an attacker's words on the sign-in page
LOGIN_NOTICES = {
    "session-ended": "Your session has ended (signed out, expired, or the admin token changed); sign in again.",
    "signed-out-all": "Everyone has been signed out; sign in again with your token.",
}


def default_backend_for(cache_dir: Path | None) -> Callable[[str], object]:
    def load(ref: str):
        from chatrecipe.backends import load_backend

        return load_backend(ref, cache_dir=cache_dir, batch_size=2)

    return load


def body_limit_for(path: str) -> int:
    """The largest body a path takes: the project upload takes a prompts file, every other form only text."""
    return MAX_UPLOAD + MAX_FORM_BYTES if path == "/admin/projects" else MAX_FORM_BYTES


def create_app(db: str, *, backend_for: Callable[[str], object] | None = None, cache_dir: Path | None = None,
               login_attempts: int = 10, login_window: float = 60.0, secure_cookies: bool = False,
               trusted_proxies: Sequence[str] = ()) -> FastAPI:
    """The app over database `db`; `backend_for(ref)` gives the Backend that answers as model `ref` in dialogs.

    `trusted_proxies`: addresses (or networks) of reverse proxies whose X-Forwarded-For names the client; from
    anyone else the header is ignored. `app.state.notes` says what start-up changed (for the operator).
    """
    from chatrecipe.annotate import admin, tasks

    app = FastAPI(title="chatrecipe annotate", docs_url=None, redoc_url=None, openapi_url=None)
    exposed = open_to_others(db)  # asked before make_engine, whose -wal and -shm files copy the file's mode
    app.state.engine = make_engine(db)
    app.state.sessions = make_sessionmaker(app.state.engine)
    secret, app.state.notes = load_secret(db, app.state.sessions)
    app.state.notes += [exposed] if exposed else []
    app.state.signer = Signer(secret)
    app.state.limiter = RateLimiter(login_attempts, login_window)
    app.state.secure_cookies = secure_cookies
    app.state.backend_for = backend_for or default_backend_for(cache_dir)
    app.state.backends = {}
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(tasks.router)
    app.include_router(admin.router)

    app.add_middleware(SessionAndHeaders)
    app.add_middleware(BodyLimit, limit_for=body_limit_for)
    if trusted_proxies:  # outermost, so everything inside sees the client the proxy named
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))

    @app.exception_handler(StarletteHTTPException)  # Starlette's own refusals too (a malformed form): a page, not JSON
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code in (301, 302, 303, 307) and exc.headers:
            return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        response = render(request, "error.html", status=exc.status_code, message=message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError):
        if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
            return render(request, "error.html", status=404, message="no such page")
        return render(request, "error.html", status=422, message="the request is malformed; reload the page")

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge):
        return render(request, "error.html", status=413,
                      message=f"{exc}. Texts are limited to {MAX_TEXT:,} characters; go back and shorten it.")

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    @app.get("/login")
    def login_page(request: Request, error: str | None = None):
        pre = request.cookies.get(PRE_COOKIE) or secrets.token_hex(16)
        response = render(request, "login.html", message=LOGIN_NOTICES.get(error or ""),
                          login_csrf=app.state.signer.csrf(pre))
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=secure_cookies)
        return response

    @app.post("/login")
    async def login(request: Request):
        form = await read_form(request)
        source = sign_in_source(request, app.state.signer)
        wait = app.state.limiter.blocked(source)
        if wait:
            raise HTTPException(429, f"too many failed sign-ins; wait {int(wait)} seconds and try again",
                                headers={"Retry-After": str(int(wait))})
        if not app.state.signer.check_csrf(request.cookies.get(PRE_COOKIE), form.get("csrf")):
            raise HTTPException(403, "the sign-in form's security token is missing or stale; reload the page")
        token = str(form.get("token") or "").strip()
        signed_in = await run_in_threadpool(open_session, app, token, request.cookies.get(COOKIE))
        if signed_in is None:
            app.state.limiter.fail(source)
            return render(request, "login.html", status=401, error="unknown token; check it with your admin",
                          login_csrf=app.state.signer.csrf(request.cookies.get(PRE_COOKIE)))
        kind, annotator_id, cookie = signed_in
        response = RedirectResponse("/admin" if kind == "admin" else "/", status_code=303)
        options = {"httponly": True, "samesite": "strict", "secure": secure_cookies}
        response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, **options)
        response.set_cookie(DEVICE_COOKIE, device_cookie(app.state.signer, kind, annotator_id), max_age=DEVICE_SECONDS,
                            **options)
        return response

    @app.post("/logout")
    async def logout(request: Request):
        check_csrf(request, await read_form(request))
        await run_in_threadpool(end_session, app.state.sessions, app.state.signer, request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/")
    async def home(request: Request):
        who = identity(request)
        if who is None:
            ended = request.cookies.get(COOKIE) is not None
            return RedirectResponse("/login?error=session-ended" if ended else "/login", status_code=303)
        if who.kind == "admin":
            return RedirectResponse("/admin", status_code=303)
        rows, name = await run_in_threadpool(my_assignments, app, who.annotator_id)
        return render(request, "home.html", rows=rows, who_name=name,
                      pending=sum(1 for r in rows if not r["done"]))

    @app.get("/next")
    async def next_item(request: Request):
        who = require_annotator(request)
        rows, _ = await run_in_threadpool(my_assignments, app, who.annotator_id)
        pending = [r for r in rows if not r["done"]]
        return RedirectResponse(f"/item/{pending[0]['id']}" if pending else "/", status_code=303)

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    return app


def open_session(app: FastAPI, token: str, previous_cookie: str | None) -> tuple[str, int | None, str] | None:
    """(kind, annotator id, session cookie) for a valid token, else None; a session the browser had ends."""
    kind, annotator_id = None, None
    if token and admin_token_matches(token):
        kind = "admin"
    elif token:
        with app.state.sessions() as session:
            annotator_id = session.scalar(select(Annotator.id).where(Annotator.token_hash == hash_token(token)))
        kind = "annotator" if annotator_id else None
    if kind is None:
        return None
    end_session(app.state.sessions, app.state.signer, previous_cookie)
    return kind, annotator_id, start_session(app.state.sessions, app.state.signer, kind, annotator_id)


def my_assignments(app: FastAPI, annotator_id: int) -> tuple[list[dict], str]:
    """This annotator's assignments only (never anyone else's), oldest project first."""
    with app.state.sessions() as session:
        name = session.scalar(select(Annotator.name).where(Annotator.id == annotator_id))
        rows = session.execute(select(Assignment, Item, Project).join(Item, Assignment.item_id == Item.id)
                               .join(Project, Item.project_id == Project.id)
                               .where(Assignment.annotator_id == annotator_id)
                               .order_by(Project.id, Item.id)).all()
        return [{"id": a.id, "done": a.done, "project": p.name, "task": p.task, "item": i.external_id,
                 "category": i.category} for a, i, p in rows], name or "?"
