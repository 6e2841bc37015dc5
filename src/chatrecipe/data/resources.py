"""Where chatrecipe's files are: the ones it ships (`starter:sft.jsonl`, `questions:...`, `redteam:...`,
`rm:...`) and the folder for its caches (`$CHATRECIPE_HOME`)."""

from __future__ import annotations

import os
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


def chatrecipe_home() -> Path:
    """$CHATRECIPE_HOME (unset or empty: ~/.cache/chatrecipe): converted models and shared caches, never inside the
    installed package. It lives here, on the ground floor, so that `data` and everything above can ask for it."""
    return Path(os.environ.get("CHATRECIPE_HOME") or Path.home() / ".cache" / "chatrecipe")
