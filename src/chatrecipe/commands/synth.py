"""`chatrecipe synth self-instruct | roleplay | pairs`: bootstrap data with LLMs, one method at a time.

Each command runs one method with the recipe's `synth:` section (`--config`) or the defaults, plus `--set`
overrides: a key of the section (`generator=openai:gpt-4o-mini`, `language=null`) or of the method
(`rounds=3`, `k=4`), written to the same output folder layout as the pipeline's synth stage (pipeline/synth.py), which runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.messages import fail

app = typer.Typer(help="Bootstrap data with LLMs: self-instruct, roleplayed dialogs, AI-feedback preference pairs.",
                  no_args_is_help=True, add_completion=False)

METHOD_OF = {"self-instruct": "self_instruct", "roleplay": "roleplay", "pairs": "pairs"}


def section_for(command: str, config: Path | None, overrides: list[str], generator: str | None,
                base_url: str | None) -> dict:
    """The synth section for one method: the recipe's (if any), only this method, with overrides applied."""
    from dataclasses import fields

    from chatrecipe.recipe import RecipeError, apply_override, load_recipe
    from chatrecipe.synth.args import METHODS, SynthArgs

    recipe = load_recipe(config) if config else {}
    section = {k: v for k, v in (recipe.get("synth") or {}).items() if k not in METHODS}
    method = METHOD_OF[command]
    section[method] = dict((recipe.get("synth") or {}).get(method) or {})
    top = {f.name for f in fields(SynthArgs) if f.init}
    for assignment in overrides:
        if "=" not in assignment:
            raise RecipeError(f"--set {assignment!r}: write it as key=value, for example rounds=2")
        key, text = assignment.split("=", 1)
        key = key.strip().removeprefix("synth.").removeprefix(f"{method}.")
        apply_override(section, f"{key if key in top else f'{method}.{key}'}={text}")
    if generator:
        section["generator"] = generator
    if base_url:
        section["base_url"] = base_url
    return section


def _command(command: str):
    def run(
        config: Optional[Path] = typer.Option(None, "--config", help="Recipe YAML whose `synth:` section to use."),
        set_: List[str] = typer.Option([], "--set", help="Override: rounds=2, k=4, generator=openai:gpt-4o-mini."),
        output_dir: Path = typer.Option(Path(f"runs/synth-{command}"), "-o", "--output-dir",
                                        help="Folder for the records, summary.json and the answer cache."),
        generator: Optional[str] = typer.Option(None, help="Generator model reference (default: the section's)."),
        base_url: Optional[str] = typer.Option(None, help="Endpoint for openai: models."),
        seed: int = typer.Option(42, help="Seed for sampling examples, personas and prompts."),
    ) -> None:
        from chatrecipe.pipeline.synth import synthesize
        from chatrecipe.recipe import RecipeError
        from chatrecipe.synth.requests import SynthStopped
        from chatrecipe.synth.sources import SynthInputError

        try:
            result = synthesize(section_for(command, config, set_, generator, base_url), output_dir=output_dir,
                               seed=seed)
        except (RecipeError, SynthInputError, SynthStopped, ValueError) as exc:
            fail(str(exc))
        for name, path in result["artifacts"].items():
            typer.echo(f"{name}: {path}")
        typer.echo(f"summary: {output_dir / 'summary.json'}")

    run.__doc__ = {
        "self-instruct": "New tasks from seed tasks in rounds (ROUGE-L novelty filter, blacklist, mix steering), "
                         "answered by the generator.",
        "roleplay": "Multi-turn dialogs between a simulated user (persona + goal) and the generator.",
        "pairs": "k responses per prompt rated by a judge or reward model, binarised into preference pairs.",
    }[command]
    return run


for _name in METHOD_OF:
    app.command(_name)(_command(_name))

