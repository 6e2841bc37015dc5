"""Outputs that grow as work completes (answers, judgments): one line appended per finished item, read back on
a rerun so that nothing finished is asked for again.

A SIGKILL can land in the middle of a write. The line it cuts is the last one and has no newline; left there,
the next append would glue a new record onto it and the rerun would refuse the whole file. So a rerun first
mends the tail: a cut line is removed (its answer is already in the backend's cache, so redoing it costs
nothing), and a whole record that only lacks its newline gets one. Any other bad line is not a crash's doing
and stays an error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from chatrecipe.data.records import read_jsonl
from chatrecipe.data.strict_json import dumps

TAIL_CHUNK = 1 << 16


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one record and flush, so a crash loses at most the line being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = dumps(record) + "\n"  # refused before the file is touched, so a bad value never leaves half a line
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()


def read_appended(path: str | Path) -> list[dict]:
    """The records of an appended output (none if it does not exist yet), its tail mended first (see above)."""
    path = Path(path)
    if not path.exists():
        return []
    mend_tail(path)
    return read_jsonl(path)


def mend_tail(path: Path) -> str | None:
    """Make the file end with a whole line; returns what was done ("removed" / "completed"), or None."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return None
        start = _last_line_start(handle, size)
        handle.seek(start)
        tail = handle.read()
        if _is_record(tail):
            handle.write(b"\n")
            return "completed"
        handle.truncate(start)
    print(f"note: {path}: removed a half-written last line ({len(tail)} bytes) that an interrupted run left; "
          "that item is done again", file=sys.stderr)
    return "removed"


def _last_line_start(handle, size: int) -> int:
    """The offset just after the last newline (0 when the file has none), read backwards in chunks."""
    end = size
    while end > 0:
        start = max(0, end - TAIL_CHUNK)
        handle.seek(start)
        newline = handle.read(end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # cut mid-value, or mid-character (UnicodeDecodeError is a ValueError)
        return False
