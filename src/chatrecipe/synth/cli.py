"""`chatrecipe synth`: the command-line face of this stage; thin commands, heavy imports inside them."""

from __future__ import annotations

import typer

app = typer.Typer(help="Bootstrap data with LLMs: self-instruct, roleplayed dialogs, AI-feedback preference pairs.", no_args_is_help=True, add_completion=False)
