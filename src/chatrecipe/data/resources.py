"""Names for the files chatrecipe ships: `starter:sft.jsonl`, `questions:...`, `redteam:...`, `rm:...`."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PREFIXES = {"starter:": "starter", "questions:": "questions", "redteam:": "redteam", "rm:": "rm_testsets",
            "mix:": "mixes", "classify:": "classify"}


def resource_path(ref: str | Path) -> Path:
    """A shipped file for a `prefix:name` reference; anything else is taken as a path."""
    ref = str(ref)
    for prefix, folder in PREFIXES.items():
        if ref.startswith(prefix):
            return Path(str(files("chatrecipe") / "resources" / folder / ref[len(prefix):]))
    return Path(ref)
