"""Progress on long work (answers, judgments, reward-model scores) that a person sees wherever they watch it.

On a terminal it is a rich bar on stderr. On a pipe or a file (CI, nohup, a run under `tee`) a live bar draws
nothing until it ends, so there it is a plain line at every tenth of the work and at least once a minute:
`answers by sft: 40/120 (33%), 1m20s so far, about 2m40s left`. stdout stays free for `--json` output.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

PLAIN_EVERY_SECONDS = 60.0


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class _PlainLines:
    """Progress as log lines: at each tenth of the total, at most a minute apart, and at the end."""

    def __init__(self, label: str, total: int, completed: int):
        self.label, self.total, self.done = label, total, completed
        self.started = self.last_print = time.monotonic()
        self.last_tenth, self.printed = self._tenth(), completed

    def _tenth(self) -> int:
        return 10 * self.done // self.total if self.total else 10

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._tenth() > self.last_tenth or now - self.last_print >= PLAIN_EVERY_SECONDS:
            self.print(now)

    def print(self, now: float) -> None:
        elapsed = now - self.started
        share = self.done / self.total if self.total else 1.0
        left = f", about {_duration(elapsed / share - elapsed)} left" if 0 < share < 1 else ""
        print(f"{self.label}: {self.done}/{self.total} ({100 * share:.0f}%), {_duration(elapsed)} so far{left}",
              file=sys.stderr, flush=True)
        self.last_print, self.last_tenth, self.printed = now, self._tenth(), self.done


@contextmanager
def progress_bar(label: str, total: int, completed: int = 0) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`: call it with the number of items just finished."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True)) as bar:
            task = bar.add_task(label, total=total, completed=completed)
            yield lambda n=1: bar.advance(task, n)
        return
    lines = _PlainLines(label, total, completed)
    yield lines.advance
    if lines.done != lines.printed:
        lines.print(time.monotonic())  # where it ended, unless the last line already said so
