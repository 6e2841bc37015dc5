"""`chatrecipe annotate`: the annotation web app's commands — people, projects, serving, export and agreement.

Run as: `chatrecipe annotate add-annotator --db annotate.db --name ana`, then `create-project`, `serve`,
`export` and `agreement`. `--db` takes a SQLite path (the default, WAL mode) or a `postgresql://` URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.messages import fail

app = typer.Typer(help="Collect demonstrations and preferences from people in a web app; export and agreement.", no_args_is_help=True, add_completion=False)

DB_HELP = "Database: a SQLite file path (default annotate.db) or a postgresql://user@host/db URL."


def cannot_open(db: str, exc: Exception):
    """End the command: the database cannot be opened (a folder that does not exist, a server that does not answer)."""
    from chatrecipe.backends.redact import redact

    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    fail(f"cannot open the database {redact(db)}: {redact(reason)}; check the path or URL, and that the server runs")


def database(db: str):
    """The sessionmaker of database `db`, or the command's end with a message saying why it cannot be opened."""
    from sqlalchemy.exc import OperationalError

    from chatrecipe.annotate.store import make_engine, make_sessionmaker

    try:
        return make_sessionmaker(make_engine(db))
    except (OSError, OperationalError) as exc:
        cannot_open(db, exc)


@app.command()
def serve(
    db: str = typer.Option("annotate.db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (127.0.0.1 keeps it local)."),
    port: int = typer.Option(8100, help="Port."),
    cache_dir: Optional[Path] = typer.Option(None, help="Cache of model answers in dialogs (default under "
                                             "$CHATRECIPE_HOME/annotate-cache)."),
    secure_cookies: bool = typer.Option(False, help="Mark cookies Secure (set when served over HTTPS)."),
    trusted_proxy: List[str] = typer.Option([], help="Address (or network) of a reverse proxy whose X-Forwarded-For "
                                            "names the client, for the sign-in rate limit; repeatable. Without it "
                                            "the header is ignored, from 127.0.0.1 too."),
) -> None:
    """Serve the annotation app; the admin signs in with $CHATRECIPE_ADMIN_TOKEN."""
    import os

    import uvicorn
    from sqlalchemy.exc import OperationalError

    from chatrecipe.annotate.app import create_app
    from chatrecipe.annotate.keys import KeyFileError
    from chatrecipe.annotate.security import ADMIN_ENV
    from chatrecipe.backends.redact import redact
    from chatrecipe.data.resources import chatrecipe_home

    if not os.environ.get(ADMIN_ENV):
        typer.echo(f"note: {ADMIN_ENV} is not set, so nobody can open the admin pages", err=True)
    try:
        application = create_app(db, cache_dir=cache_dir or chatrecipe_home() / "annotate-cache",
                                 secure_cookies=secure_cookies, trusted_proxies=trusted_proxy)
    except KeyFileError as exc:
        fail(str(exc))
    except (OSError, OperationalError) as exc:
        cannot_open(db, exc)
    for note in application.state.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"annotation app on http://{host}:{port} (database {redact(db)})")  # never the password
    # the app trusts forwarded headers itself, only from --trusted-proxy; uvicorn would trust them from 127.0.0.1
    uvicorn.run(application, host=host, port=port, log_level="warning", proxy_headers=False)


@app.command("add-annotator")
def add_annotator_command(
    name: str = typer.Option(..., help="The annotator's name (shown on the dashboard and in exports)."),
    db: str = typer.Option("annotate.db", help=DB_HELP),
) -> None:
    """Create an annotator and print their sign-in token (only its hash is stored: keep it now)."""
    from chatrecipe.annotate.projects import ProjectError, add_annotator

    try:
        with database(db).begin() as session:
            token = add_annotator(session, name)
    except ProjectError as exc:
        fail(str(exc))
    typer.echo(json.dumps({"name": name, "token": token}))


@app.command("create-project")
def create_project_command(
    name: str = typer.Option(..., help="Project name."),
    task: str = typer.Option(..., help="demonstration, pairwise or dialog."),
    prompts: Path = typer.Option(..., help="Prompts file (JSON Lines; see chatrecipe.annotate.projects)."),
    db: str = typer.Option("annotate.db", help=DB_HELP),
    scale: str = typer.Option("anthropic-8", help="anthropic-8 or llama2-4 (pairwise and dialog)."),
    overlap: int = typer.Option(1, help="Annotators per item (k >= 2 gives agreement figures)."),
    max_turns: int = typer.Option(3, help="Turns per dialog."),
    model: List[str] = typer.Option([], help="Model reference that answers (give two; dialogs and missing "
                                              "pairwise responses)."),
    guidelines: Optional[Path] = typer.Option(None, help="Text file of guidelines shown with every item."),
    annotator: List[str] = typer.Option([], help="Only these annotators (default: all)."),
    seed: Optional[int] = typer.Option(None, help="Seed for the random A/B display order."),
) -> None:
    """Make a project from a prompts file and assign each item to `overlap` annotators."""
    from chatrecipe.annotate.app import default_backend_for
    from chatrecipe.annotate.projects import ProjectError, create_project
    from chatrecipe.data.records import RecordFileError

    try:
        with database(db).begin() as session:
            summary = create_project(session, name, task, prompts, scale=scale, overlap=overlap, max_turns=max_turns,
                                     models=model, guidelines=guidelines.read_text() if guidelines else "",
                                     annotators=annotator or None, backend_for=default_backend_for(None), seed=seed)
    except (ProjectError, RecordFileError) as exc:
        fail(str(exc))
    typer.echo(json.dumps(summary))


@app.command()
def export(
    output: Path = typer.Option(..., "--output", "-o", help="Output file (.jsonl, .parquet, .jsonl.gz)."),
    kind: str = typer.Option("preference", help="preference (for train rm/dpo), sft or battle (for Elo)."),
    db: str = typer.Option("annotate.db", help=DB_HELP),
    project: Optional[str] = typer.Option(None, help="Only this project (default: all)."),
) -> None:
    """Export annotations as preference, SFT conversation or battle records (invalid ones to .rejected.jsonl)."""
    from chatrecipe.annotate.export import KINDS
    from chatrecipe.annotate.export import export as run_export
    from chatrecipe.data.records import write_records, write_rejected

    if kind not in KINDS:
        fail(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    with database(db)() as session:
        records, rejected = run_export(session, kind, project)
    write_records(output, records)
    rejected_file = write_rejected(output, rejected)
    typer.echo(json.dumps({"kind": kind, "records": len(records), "rejected": len(rejected), "output": str(output),
                           "rejected_file": str(rejected_file) if rejected_file else None}))


@app.command()
def agreement(
    db: str = typer.Option("annotate.db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Inter-annotator agreement per pairwise project, and each annotator's rate of choosing the left response."""
    from rich.console import Console
    from rich.table import Table

    from chatrecipe.annotate.progress import all_agreements, annotator_stats

    with database(db)() as session:
        tables, people = all_agreements(session), annotator_stats(session)
    if as_json:
        typer.echo(json.dumps({"projects": tables, "annotators": people}, default=str))
        return

    def fmt(x, pattern="{:.3f}"):
        return "—" if x is None else pattern.format(x)

    table = Table(title="Inter-annotator agreement")
    for column in ("project", "scale", "items ≥2 labels", "% agree", "Cohen κ", "Fleiss κ", "α nominal",
                   "α interval", "α ordinal"):
        table.add_column(column)
    for t in tables:
        table.add_row(t["project"], t["scale"] or "", f"{t['items_multiply_labelled']}/{t['items']}",
                      fmt(t["percent_agreement"] and 100 * t["percent_agreement"], "{:.0f}"), fmt(t["cohen_kappa_mean"]),
                      fmt(t["fleiss_kappa"]), fmt(t["alpha_nominal"]), fmt(t.get("alpha_interval")),
                      fmt(t.get("alpha_ordinal")))
    bias = Table(title="Annotators")
    for column in ("annotator", "done", "median s/item", "chose left", "95% CI"):
        bias.add_column(column)
    for p in people:
        bias.add_row(p["name"], f"{p['done']}/{p['assigned']}", fmt(p["median_seconds"], "{:.1f}"),
                     fmt(p["left_rate"], "{:.0%}") + f" of {p['choices']}",
                     "—" if p["left_rate"] is None else f"{p['left_low']:.0%}–{p['left_high']:.0%}")
    console = Console()
    console.print(table)
    console.print(bias)
