"""How commands speak to people: errors that say what to do (on stderr, with an exit code), rejected rows by file
and line, and where results were written. Plain text, never wrapped, so messages stay greppable in logs."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop the command: `error: <message>` on stderr and a non-zero exit (2: bad input, 1: less than asked)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def show_rejected(rejected: list[dict], limit: int = 20) -> None:
    """The first rejected rows, by file, line and field, on stderr; the rest are counted."""
    from chatrecipe.data.records import describe_rejection

    for item in rejected[:limit]:
        typer.echo(describe_rejection(item), err=True)
    if len(rejected) > limit:
        typer.echo(f"... and {len(rejected) - limit} more rejected rows", err=True)


def write_section_outputs(section: dict, out: Path, stem: str) -> None:
    """`--out DIR`: the section a command computed as JSON, Markdown, CSV and PNG files people open."""
    from chatrecipe.report.build import write_section_files

    written = write_section_files(section, out, stem)
    typer.echo(f"wrote {', '.join(p.name for p in written)} to {out}", err=True)


def echo_tables(tables: list[dict], warnings: list[str] = ()) -> None:
    """Report tables ({"title", "columns", "rows"}) as aligned plain text on stdout, what the report shows, then
    the section's warnings on stderr."""
    for table in tables:
        rows = [list(map(str, table["columns"]))] + [[str(cell) for cell in row] for row in table["rows"]]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        typer.echo(f"-- {table['title']}")
        for row in rows:
            typer.echo("   " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for message in warnings:
        warn(message)
