"""`chatrecipe models list | prepare | merge`: the models chatrecipe can load offline, and LoRA merging.

Run as: `chatrecipe models prepare` (converts the embedded GGUF once), `chatrecipe models merge ADAPTER -o OUT`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from chatrecipe.commands.messages import fail
from chatrecipe.commands.options import ALLOW_PICKLE, apply_allow_pickle

app = typer.Typer(help="List, prepare and merge models.", no_args_is_help=True, add_completion=False)


@app.command("list")
def models_list() -> None:
    """Models available offline: the embedded default and converted ones."""
    from chatrecipe.models import list_models

    for row in list_models():
        state = "ready" if row["prepared"] else "not prepared (run `chatrecipe models prepare`)"
        typer.echo(f"{row['name']:<28} {row['kind']:<9} {state}  {row['path']}")


@app.command("prepare")
def models_prepare(force: bool = typer.Option(False, help="Convert again even if already prepared.")) -> None:
    """Convert the embedded GGUF model to a safetensors folder under $CHATRECIPE_HOME (once)."""
    from chatrecipe.models import ModelLoadError, prepare_embedded

    try:
        typer.echo(str(prepare_embedded(force=force)))
    except ModelLoadError as exc:
        fail(str(exc))


@app.command("merge")
def models_merge(
    adapter: Path = typer.Argument(..., help="A LoRA adapter folder (from `chatrecipe train ... method=lora`)."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for the merged full model."),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Merge a LoRA adapter into its base model and save a full model folder (with tokenizer and template)."""
    apply_allow_pickle(allow_pickle)
    from chatrecipe.train.peft_setup import merge_adapter

    typer.echo(str(merge_adapter(adapter, output)))
