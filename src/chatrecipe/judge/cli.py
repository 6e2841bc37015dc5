"""`chatrecipe judge`: the command-line face of this stage; thin commands, heavy imports inside them."""

from __future__ import annotations

import typer

app = typer.Typer(help="Judge answers with an LLM: single 1-10 grades or pairwise verdicts in both orders.", no_args_is_help=True, add_completion=False)
