"""The admin's pages: the dashboard (progress, throughput, time per item, agreement, position bias), creating
annotators and projects, downloading exports, and signing everyone out. Only a session signed in with
CHATRECIPE_ADMIN_TOKEN gets here.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from chatrecipe.annotate.export import KINDS, export
from chatrecipe.annotate.progress import all_agreements, annotator_stats, project_progress
from chatrecipe.annotate.projects import ProjectError, add_annotator, create_project
from chatrecipe.annotate.security import COOKIE
from chatrecipe.annotate.sessions import end_all_sessions
from chatrecipe.annotate.web import check_csrf, read_form, render, require_admin
from chatrecipe.data.strict_json import dumps

router = APIRouter(prefix="/admin")
MAX_UPLOAD = 20 * 1024 * 1024


def _dashboard(app) -> dict:
    with app.state.sessions() as session:
        return {"projects": project_progress(session), "people": annotator_stats(session),
                "agreements": all_agreements(session)}


async def _show(request: Request, status: int = 200, **extra):
    data = await run_in_threadpool(_dashboard, request.app)
    return render(request, "admin.html", status=status, who_name="admin", export_kinds=KINDS, **data, **extra)


@router.get("")
async def dashboard(request: Request):
    require_admin(request)
    return await _show(request)


@router.post("/annotators")
async def new_annotator(request: Request):
    require_admin(request)
    form = await read_form(request)
    check_csrf(request, form)

    def work():
        with request.app.state.sessions.begin() as session:
            return add_annotator(session, str(form.get("name") or ""))

    try:
        token = await run_in_threadpool(work)
    except ProjectError as exc:
        return await _show(request, status=400, error=str(exc))
    return await _show(request, new_token={"name": form.get("name"), "token": token})


@router.post("/projects")
async def new_project(request: Request):
    require_admin(request)
    form = await read_form(request)
    check_csrf(request, form)
    upload = form.get("prompts")
    if upload is None or not hasattr(upload, "read"):
        return await _show(request, status=400, error="choose a prompts file (JSON Lines) to upload")
    blob = await upload.read()
    if len(blob) > MAX_UPLOAD:
        return await _show(request, status=413, error="the prompts file is over 20 MB; split it")
    models = [m.strip() for m in str(form.get("models") or "").split(",") if m.strip()]

    def work():
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "prompts.jsonl"
            path.write_bytes(blob)
            with request.app.state.sessions.begin() as session:
                return create_project(session, str(form.get("name") or "").strip(), str(form.get("task")), path,
                                      scale=str(form.get("scale") or "anthropic-8"),
                                      overlap=int(form.get("overlap") or 1), max_turns=int(form.get("max_turns") or 3),
                                      models=models, guidelines=str(form.get("guidelines") or ""),
                                      backend_for=request.app.state.backend_for)

    try:
        summary = await run_in_threadpool(work)
    except (ProjectError, ValueError) as exc:
        return await _show(request, status=400, error=str(exc))
    return await _show(request, message=f"project {summary['project']}: {summary['items']} items, "
                                         f"{summary['assignments']} assignments, {summary['rejected']} rejected rows")


@router.post("/sessions/end-all")
async def sign_everyone_out(request: Request):
    """End every session, this one too: for a leaked cookie, a departed annotator, or a handover."""
    require_admin(request)
    check_csrf(request, await read_form(request))
    await run_in_threadpool(end_all_sessions, request.app.state.sessions)
    response = RedirectResponse("/login?error=signed-out-all", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/export/{kind}")
async def download(request: Request, kind: str, project: str | None = None):
    require_admin(request)
    if kind not in KINDS:
        raise HTTPException(404, f"unknown export; use one of {', '.join(KINDS)}")

    def work():
        with request.app.state.sessions() as session:
            return export(session, kind, project or None)

    records, rejected = await run_in_threadpool(work)
    body = "".join(dumps(r) + "\n" for r in records)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{project or 'all'}-{kind}.jsonl")
    return Response(body, media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Rejected-Records": str(len(rejected))})
