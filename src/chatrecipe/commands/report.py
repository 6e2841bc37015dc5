"""`chatrecipe report RUN_DIR...`: the self-contained HTML report of one run, several side by side, a leaderboard
across runs, or a live view that rebuilds while a run is in progress."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(add_completion=False)


@app.command("report")
def report(
    run_dirs: List[Path] = typer.Argument(..., help="Run folders (runs/<name>); several are shown side by side."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output folder (default: RUN/report for one "
                                          "run, runs/leaderboard for --leaderboard, else runs/compare)."),
    leaderboard: bool = typer.Option(False, "--leaderboard", help="One table across runs: a row per model or "
                                     "checkpoint with every metric and its interval, linking each run's page."),
    title: Optional[str] = typer.Option(None, help="Page title."),
    serve: bool = typer.Option(False, "--serve", help="Serve the runs' reports and rebuild them on every request "
                                "(the page refreshes itself while a run is in progress)."),
    port: int = typer.Option(8765, help="Port for --serve (127.0.0.1)."),
) -> None:
    """Write a self-contained HTML report (plus Markdown and JSON) for one run, several runs, or a leaderboard."""
    from chatrecipe.report.build import build_report

    missing = [str(d) for d in run_dirs if not d.is_dir()]
    if missing:
        typer.echo(f"error: not a run folder: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    if serve:
        from chatrecipe.report.live import serve_reports

        serve_reports(run_dirs, port=port)
        return
    if output is None:
        output = (run_dirs[0] / "report" if len(run_dirs) == 1 and not leaderboard
                  else run_dirs[0].parent / ("leaderboard" if leaderboard else "compare"))
    paths = build_report(run_dirs, output, title=title, leaderboard=leaderboard)
    typer.echo(str(paths["html"]))
