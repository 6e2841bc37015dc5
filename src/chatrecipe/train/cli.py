"""`chatrecipe train sft|rm|dpo|rl --config RECIPE.yaml`: one training stage on its own, outside `chatrecipe run`.

Each stage reads its own section of the recipe (plus `model` and `data`); `--set` overrides keys of that section
(or any section with a dotted key). The same entry points run under `accelerate launch -m chatrecipe.train.sft`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Train on TRL: SFT (full, LoRA, QLoRA), reward models, DPO, online RL with a reward model.",
                  no_args_is_help=True, add_completion=False)
INPUTS = {"sft": "sft_files", "rm": "preference_files", "dpo": "preference_files", "rl": "preference_files"}


def run_stage(stage: str, config: Path, overrides: list[str], output_dir: Path | None, resume: bool | str,
              reward_model: str | None = None, model: str | None = None) -> dict:
    """Run one training stage from a recipe file; returns its metrics."""
    from chatrecipe.data.resources import resource_path
    from chatrecipe.models import EMBEDDED
    from chatrecipe.recipe import load_recipe

    recipe = load_recipe(config, [o if "." in o.split("=", 1)[0] else f"{stage}.{o}" for o in overrides])
    model = model or (recipe.get("model") or {}).get("name", EMBEDDED)
    data = recipe.get("data") or {}
    files = [resource_path(f) for f in data.get(INPUTS[stage]) or
             (["starter:sft.jsonl"] if stage == "sft" else ["starter:preferences.jsonl"])]
    output_dir = output_dir or Path(recipe.get("runs_dir") or "runs") / recipe["name"] / stage
    section = recipe.get(stage) or {}
    seed = int(recipe.get("seed", 42))
    if stage == "sft":
        from chatrecipe.train import sft

        return sft.run(section, model=model, train_files=files, output_dir=output_dir, seed=seed, resume=resume)
    if stage == "rm":
        from chatrecipe.train import reward

        return reward.run(section, model=model, train_files=files, output_dir=output_dir, seed=seed, resume=resume)
    if stage == "dpo":
        from chatrecipe.train import dpo

        return dpo.run(section, model=model, train_files=files, output_dir=output_dir, seed=seed, resume=resume)
    from chatrecipe.train import rl

    if not reward_model:
        raise typer.BadParameter("rl needs --reward-model (a folder from `chatrecipe train rm`)")
    return rl.run(section, model=model, reward_model=reward_model, prompt_files=files, output_dir=output_dir,
                  seed=seed, resume=resume)


def run_stage_from_argv(stage: str, argv: list[str] | None) -> None:
    """Plain argparse entry for `python -m chatrecipe.train.<stage>` (accelerate launch passes argv through)."""
    parser = argparse.ArgumentParser(prog=f"chatrecipe.train.{stage}")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--output-dir", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--reward-model")
    parser.add_argument("--resume", nargs="?", const=True, default=True)
    parser.add_argument("--no-resume", dest="resume", action="store_false")
    ns = parser.parse_args(argv)
    print(run_stage(stage, ns.config, ns.overrides, ns.output_dir, ns.resume, ns.reward_model, ns.model))


def _command(stage: str):
    def command(
        config: Path = typer.Option(..., "--config", help="Recipe YAML; this stage reads its own section."),
        set_: List[str] = typer.Option([], "--set", help="Override: learning_rate=1e-5 or sft.learning_rate=1e-5."),
        output_dir: Optional[Path] = typer.Option(None, help="Where checkpoints and final/ go "
                                                  "(default: runs/<name>/<stage>)."),
        model: Optional[str] = typer.Option(None, help="Start from this model instead of the recipe's."),
        reward_model: Optional[str] = typer.Option(None, help="rl only: the reward model folder."),
        resume: Optional[Path] = typer.Option(None, help="Resume from this checkpoint folder (by default the "
                                              "latest checkpoint in the output folder is resumed)."),
        fresh: bool = typer.Option(False, help="Ignore existing checkpoints and start over."),
    ) -> None:
        from chatrecipe.recipe import RecipeError
        from chatrecipe.train.outputs import TrainingInputError

        try:
            metrics = run_stage(stage, config, set_, output_dir, str(resume) if resume else not fresh,
                                reward_model, model)
        except (RecipeError, TrainingInputError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
        typer.echo({k: v for k, v in metrics.items() if k != "settings"})

    command.__doc__ = {"sft": "Supervised fine-tuning on conversations (assistant-only loss).",
                       "rm": "Train a reward model on preference pairs (margin-aware).",
                       "dpo": "Direct preference optimisation from a (SFT) model.",
                       "rl": "Online RL (RLOO) rewarded by a trained reward model."}[stage]
    return command


for _stage in ("sft", "rm", "dpo", "rl"):
    app.command(_stage)(_command(_stage))
