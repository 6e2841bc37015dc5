"""Run one side of a side-by-side benchmark in a fresh Python process and read back its JSON figures.

A fresh process per run keeps one run's memory state and process-wide settings (the allocator tuning of
`keep_freed_memory`) from leaking into the other.
"""

from __future__ import annotations

import json
import subprocess
import sys


def run_json(script: str, arguments: list[str]) -> dict:
    """`python SCRIPT ARGUMENTS...`; its last stdout line is parsed as JSON. Exits with its stderr if it fails."""
    done = subprocess.run([sys.executable, script, *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
