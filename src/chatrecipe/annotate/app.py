"""The annotation web app: server-rendered pages on FastAPI, storage in SQLAlchemy, no JavaScript build step.

Run as: `CHATRECIPE_ADMIN_TOKEN=... chatrecipe annotate serve --db annotate.db` (or `--db postgresql://...`).

This module wires the app and holds sign-in and the annotator's home page; the task pages live in `tasks.py`
and the admin's in `admin.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from chatrecipe.annotate.projects import hash_token
from chatrecipe.annotate.security import COOKIE, PRE_COOKIE, RateLimiter, Signer, admin_token_matches, session_secret
from chatrecipe.annotate.store import Annotator, Assignment, Item, Project, make_engine, make_sessionmaker
from chatrecipe.annotate.web import SECURITY_HEADERS, STATIC, identity, render, require_annotator


def default_backend_for(cache_dir: Path | None) -> Callable[[str], object]:
    def load(ref: str):
        from chatrecipe.backends import load_backend

        return load_backend(ref, cache_dir=cache_dir, batch_size=2)

    return load


def create_app(db: str, *, backend_for: Callable[[str], object] | None = None, cache_dir: Path | None = None,
               login_attempts: int = 10, login_window: float = 60.0, secure_cookies: bool = False) -> FastAPI:
    """The app over database `db`; `backend_for(ref)` gives the Backend that answers as model `ref` in dialogs."""
    from chatrecipe.annotate import admin, tasks

    app = FastAPI(title="chatrecipe annotate", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = make_engine(db)
    app.state.sessions = make_sessionmaker(app.state.engine)
    app.state.signer = Signer(session_secret(app.state.sessions))
    app.state.limiter = RateLimiter(login_attempts, login_window)
    app.state.secure_cookies = secure_cookies
    app.state.backend_for = backend_for or default_backend_for(cache_dir)
    app.state.backends = {}
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(tasks.router)
    app.include_router(admin.router)

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code in (301, 302, 303, 307) and exc.headers:
            return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        response = render(request, "error.html", status=exc.status_code, message=message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    @app.get("/login")
    def login_page(request: Request, error: str | None = None):
        import secrets

        pre = request.cookies.get(PRE_COOKIE) or secrets.token_hex(16)
        response = render(request, "login.html", error=error, login_csrf=app.state.signer.csrf(pre))
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=secure_cookies)
        return response

    @app.post("/login")
    async def login(request: Request):
        form = await request.form()
        client = request.client.host if request.client else "unknown"
        wait = app.state.limiter.blocked(client)
        if wait:
            raise HTTPException(429, f"too many failed sign-ins; wait {int(wait)} seconds and try again",
                                headers={"Retry-After": str(int(wait))})
        if not app.state.signer.check_csrf(request.cookies.get(PRE_COOKIE), form.get("csrf")):
            raise HTTPException(403, "the sign-in form's security token is missing or stale; reload the page")
        token = str(form.get("token") or "").strip()
        kind, annotator_id = None, None
        if token and admin_token_matches(token):
            kind = "admin"
        elif token:
            with app.state.sessions() as session:
                annotator_id = session.scalar(select(Annotator.id).where(Annotator.token_hash == hash_token(token)))
            kind = "annotator" if annotator_id else None
        if kind is None:
            app.state.limiter.fail(client)
            return render(request, "login.html", status=401, error="unknown token; check it with your admin",
                          login_csrf=app.state.signer.csrf(request.cookies.get(PRE_COOKIE)))
        response = RedirectResponse("/admin" if kind == "admin" else "/", status_code=303)
        response.set_cookie(COOKIE, app.state.signer.session_cookie(kind, annotator_id), httponly=True,
                            samesite="strict", secure=secure_cookies)
        return response

    @app.post("/logout")
    async def logout(request: Request):
        from chatrecipe.annotate.web import check_csrf

        check_csrf(request, await request.form())
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/")
    async def home(request: Request):
        who = identity(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
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
