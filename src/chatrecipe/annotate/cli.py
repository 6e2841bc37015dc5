"""`chatrecipe annotate`: the command-line face of this stage; thin commands, heavy imports inside them."""

from __future__ import annotations

import typer

app = typer.Typer(help="Collect demonstrations and preferences from people in a web app; export and agreement.", no_args_is_help=True, add_completion=False)
