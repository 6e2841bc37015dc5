"""`chatrecipe data`: validate, convert, classify, inspect, clean and mix datasets; thin commands, heavy imports inside."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Data: convert, validate, stats, classify, dedup, decontaminate, filter, mix.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def validate(
    files: List[Path] = typer.Argument(..., help="Record files (.jsonl, .json, .parquet, .csv, .gz, datasets folder)."),
    kind: Optional[str] = typer.Option(None, help="Record kind (conversation, preference, question, answer, "
                                                  "judgment, battle); detected per row when omitted."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the valid records here "
                                          "(rejected ones go to <output>.rejected.jsonl)."),
    strict: bool = typer.Option(False, help="Exit non-zero if any record is rejected."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Check record files against chatrecipe's schemas; report every bad line by file, line and field."""
    import json

    from rich.console import Console

    from chatrecipe.data.records import RecordFileError, load_records, write_records, write_rejected

    console = Console(stderr=True)
    try:
        result = load_records(files, kind)
    except (RecordFileError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2)
    rejected_file = None
    if output:
        write_records(output, result.records)
        rejected_file = write_rejected(output, result.rejected)
    summary = {**result.counts, "output": str(output) if output else None,
               "rejected_file": str(rejected_file) if rejected_file else None}
    if as_json:
        print(json.dumps({**summary, "rejections": result.rejected[:1000]}))
    else:
        for item in result.rejected[:200]:
            where = f"{item['file']}:{item['line']}"
            field = f" field '{item['field']}'" if item["field"] else ""
            console.print(f"[yellow]{where}[/]{field}: {item['reason']}")
        if len(result.rejected) > 200:
            console.print(f"... and {len(result.rejected) - 200} more rejected records")
        console.print(f"{summary['valid']} valid, {summary['rejected']} rejected"
                      + (f" (written to {rejected_file})" if rejected_file else ""))
    if not result.records or (strict and result.rejected):
        raise typer.Exit(1)
