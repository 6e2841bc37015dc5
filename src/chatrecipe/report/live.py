"""Live view: serve run reports, rebuilt on every request, refreshing themselves while a run is in progress.

Run as: `chatrecipe report --serve runs/*` and open http://127.0.0.1:8765/.
"""

from __future__ import annotations

import html
from pathlib import Path

from chatrecipe.report.build import build_report, in_progress

REFRESH_SECONDS = 10


def create_app(run_dirs: list[Path]):
    """A small FastAPI app: `/` lists the runs, `/run/<name>` shows one run's report, rebuilt from its files."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import HTMLResponse

    runs = {Path(d).name: Path(d) for d in run_dirs}
    app = FastAPI(title="chatrecipe reports")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        items = "".join(
            f'<li><a href="/run/{html.escape(name)}">{html.escape(name)}</a>'
            f'{" (running)" if in_progress(path) else ""}</li>' for name, path in sorted(runs.items()))
        return (f'<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" '
                f'content="{REFRESH_SECONDS}"><title>chatrecipe runs</title></head><body><h1>Runs</h1><ul>{items}'
                f'</ul><p><a href="/leaderboard">Leaderboard</a></p></body></html>')

    @app.get("/run/{name}", response_class=HTMLResponse)
    def run_page(name: str) -> str:
        if name not in runs:
            raise HTTPException(404, f"no run named {name!r}")
        path = runs[name]
        paths = build_report([path], path / "report", refresh=REFRESH_SECONDS if in_progress(path) else None)
        return paths["html"].read_text(encoding="utf-8")

    @app.get("/leaderboard", response_class=HTMLResponse)
    def leaderboard() -> str:
        first = next(iter(runs.values()))
        paths = build_report(list(runs.values()), first.parent / "leaderboard", leaderboard=True,
                             refresh=REFRESH_SECONDS)
        return paths["html"].read_text(encoding="utf-8")

    return app


def serve_reports(run_dirs: list[Path], port: int = 8765, host: str = "127.0.0.1") -> None:
    import uvicorn

    print(f"serving reports on http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(create_app(run_dirs), host=host, port=port, log_level="warning")
