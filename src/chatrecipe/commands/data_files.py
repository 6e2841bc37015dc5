"""What every `chatrecipe data` command does around its work: read inputs (any format), label records that have
no task category, and write outputs with their rejected rows beside them."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.messages import fail, warn


def load_any(files: List[Path], fmt: Optional[str] = None, options: Optional[List[str]] = None, *,
             require: bool = True):
    """Records of any format `chatrecipe data convert` reads (`options`: a format's KEY=VALUE settings); a file
    that fits none stops the command, and so (when `require`) do inputs without a single readable record: an
    empty or binary file must not pass for an empty dataset."""
    from chatrecipe.data.convert import convert
    from chatrecipe.data.records import RecordFileError

    parsed = {}
    for option in options or []:
        key, sep, value = option.partition("=")
        if not sep or not key:
            fail(f"--option {option!r}: write it as KEY=VALUE, e.g. --option attribute=correctness")
        parsed[key.strip()] = value.strip()
    try:
        result = convert(files, fmt, parsed)
    except RecordFileError as exc:
        fail(str(exc))
    if require:
        require_records(files, result)
    return result


def nothing_read(files: List[Path], rejected: list) -> str:
    """What to tell a person whose files gave no record: what the rows looked like, and what was expected."""
    seen = "; ".join(sorted({r["reason"] for r in rejected})[:2]) or "it holds no rows: the file is empty"
    return (f"{', '.join(map(str, files))}: no record could be read ({seen}). Expected JSON Lines (one JSON object "
            "per line), a JSON array, CSV, Parquet or a datasets folder, in one of the formats "
            "`chatrecipe data convert --format` lists")


def require_records(files: List[Path], result) -> None:
    """Stop (exit 1) when the files gave no record at all: with `nothing_read`'s message when no row could be read
    as any format, else with the first rejected rows (the rows were read, and every one was invalid here)."""
    from chatrecipe.data.records import describe_rejection

    if result.records:
        return
    if result.format is None:
        fail(nothing_read(files, result.rejected), 1)
    shown = "; ".join(describe_rejection(r) for r in result.rejected[:3])
    fail(f"{', '.join(map(str, files))}: no valid record: all {len(result.rejected)} rows were rejected ({shown}"
         f"{'; ...' if len(result.rejected) > 3 else ''})", 1)


def write(output: Path, records: list, rejected: list) -> None:
    from chatrecipe.data.records import write_records, write_rejected

    write_records(output, records)
    path = write_rejected(output, rejected)
    typer.echo(f"{len(records)} records -> {output}" + (f"; {len(rejected)} rejected -> {path}" if path else ""))


def label_missing(records: list[dict], enabled: bool) -> list[dict]:
    """Records with a task category each: those without one are classified (offline embeddings) when `enabled`;
    otherwise a warning says that a task table or mix of them means little, and how to fix it."""
    from chatrecipe.data.classify import classify_missing, is_unlabelled

    missing = sum(is_unlabelled(r) for r in records)
    if not missing:
        return records
    if not enabled:
        warn(f"{missing} of {len(records)} records have no task category and count as 'other'; drop --no-classify "
             "or run `chatrecipe data classify FILE -o OUT` first")
        return records
    from chatrecipe.progress import progress_bar

    with progress_bar("classify records without a category", missing) as advance:
        result = classify_missing(records, progress=advance)
    counts = result.counts
    typer.echo(f"classified {counts['classified']} of {len(records)} records that had no task category"
               + (f" ({counts['failed']} failed)" if counts["failed"] else ""), err=True)
    return result.records
