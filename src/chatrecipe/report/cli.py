"""`chatrecipe report`: thin command over the report builder."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False)
