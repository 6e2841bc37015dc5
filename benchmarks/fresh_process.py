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


def run_part(script: str, arguments: list[str], timeout: float) -> dict:
    """Like `run_json`, but a failure or a timeout comes back as a result (`error`, the stderr's end) instead of
    ending this process, so that a check can go on with its other parts and report every one."""
    import time

    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, script, *arguments], capture_output=True, text=True,
                              timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or "")[-2000:]
        return {"error": f"timed out after {timeout:.0f} s", "stderr": tail,
                "seconds": round(time.perf_counter() - started, 1)}
    seconds = round(time.perf_counter() - started, 1)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}", "stderr": done.stderr[-3000:], "seconds": seconds}
    try:
        return {**json.loads(lines[-1]), "seconds": seconds}
    except json.JSONDecodeError:
        return {"error": "no JSON result line", "stderr": done.stderr[-2000:], "seconds": seconds}
