"""One training stage from a recipe file, outside `chatrecipe run`: what `chatrecipe train <stage>` and
`python -m chatrecipe.train.<module>` (the entry `accelerate launch -m` runs on every process) share.

The stage reads its own section of the recipe plus `model` and `data`; `--set key=value` overrides a key of that
section, a dotted key any section. Plain argparse, no Typer: a launched process imports nothing above `train`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path



@dataclass
class Launch:
    """Everything a training module's `run` needs, resolved from the recipe and the command line."""

    stage: str
    section: dict
    model: str
    files: list[Path]
    output_dir: Path
    seed: int
    resume: bool | str = True
    reward_model: str | None = None

    def run_kwargs(self) -> dict:
        """The keyword arguments of the stage module's `run` (RL reads prompts and needs the reward model)."""
        from chatrecipe.train.outputs import TrainingInputError

        common = {"section": self.section, "model": self.model, "output_dir": self.output_dir, "seed": self.seed,
                  "resume": self.resume}
        if self.stage != "rl":
            return {**common, "train_files": self.files}
        if not self.reward_model:
            raise TrainingInputError("rl needs --reward-model (a folder from `chatrecipe train rm`)")
        return {**common, "prompt_files": self.files, "reward_model": self.reward_model}


def resolve(stage: str, config: Path, overrides: list[str] = (), output_dir: Path | None = None,
            resume: bool | str = True, reward_model: str | None = None, model: str | None = None) -> Launch:
    """Read the recipe with the overrides and name the stage's model, input files and output folder."""
    from chatrecipe.data.resources import STARTER_NOTICE, resource_path, stage_files, training_files
    from chatrecipe.models import EMBEDDED
    from chatrecipe.recipe import RecipeError, load_recipe

    recipe = load_recipe(config, [o if "." in o.split("=", 1)[0] else f"{stage}.{o}" for o in overrides])
    data = recipe.get("data") or {}
    sft, preferences, starter = training_files(data.get("sft_files"), data.get("preference_files"))
    try:
        files = stage_files(stage, sft, preferences)
    except ValueError as exc:
        raise RecipeError(f"{config}: {exc}") from None
    if starter:
        print(f"warning: {STARTER_NOTICE}", file=sys.stderr)
    return Launch(stage=stage, section=recipe.get(stage) or {},
                  model=model or (recipe.get("model") or {}).get("name", EMBEDDED),
                  files=[resource_path(f) for f in files],
                  output_dir=output_dir or Path(recipe.get("runs_dir") or "runs") / recipe["name"] / stage,
                  seed=int(recipe.get("seed", 42)), resume=resume, reward_model=reward_model)


def parse_argv(stage: str, argv: list[str] | None) -> Launch:
    """The `python -m chatrecipe.train.<module>` arguments (accelerate launch passes argv through)."""
    parser = argparse.ArgumentParser(prog=f"chatrecipe.train.{stage}")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--output-dir", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--reward-model")
    parser.add_argument("--resume", nargs="?", const=True, default=True)
    parser.add_argument("--no-resume", dest="resume", action="store_false")
    parser.add_argument("--allow-pickle", action="store_true", help="load pickled (.bin) weights: trusted files only")
    ns = parser.parse_args(argv)
    if ns.allow_pickle:
        from chatrecipe.models import allow_pickled_weights

        allow_pickled_weights()
    return resolve(stage, ns.config, ns.overrides, ns.output_dir, ns.resume, ns.reward_model, ns.model)
