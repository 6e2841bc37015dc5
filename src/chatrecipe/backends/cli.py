"""Top-level `chatrecipe serve | chat | generate`: thin commands over the backends and answer generation."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False)
