"""`chatrecipe train`: the command-line face of this stage; thin commands, heavy imports inside them."""

from __future__ import annotations

import typer

app = typer.Typer(help="Train on TRL: SFT (full, LoRA, QLoRA), reward models, DPO, online RL with a reward model.", no_args_is_help=True, add_completion=False)
