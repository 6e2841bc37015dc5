"""Which settings classes each recipe section is parsed with: our own `<Stage>Args` dataclasses, TRL's configs for
the training sections. `chatrecipe validate` and the runner's pre-flight check parse every section with these
before any stage starts, so a misspelt key fails in a second, not after an hour of training."""

from __future__ import annotations

from chatrecipe.pipeline.context import ModelArgs
from chatrecipe.pipeline.data import DataArgs
from chatrecipe.pipeline.eval import EvalArgs
from chatrecipe.pipeline.generate import GenerateArgs
from chatrecipe.pipeline.judge import JudgeArgs
from chatrecipe.pipeline.report import ReportArgs
from chatrecipe.recipe import SECTIONS, RecipeError, parse_section
from chatrecipe.synth.args import SynthArgs

TRAINING = ("sft", "rm", "dpo", "rl")
OWN = {"model": (ModelArgs,), "data": (DataArgs,), "synth": (SynthArgs,), "generate": (GenerateArgs,),
       "judge": (JudgeArgs,), "eval": (EvalArgs,), "report": (ReportArgs,)}


def section_classes(name: str) -> tuple:
    """The dataclasses a recipe section is parsed with."""
    if name in OWN:
        return OWN[name]
    if name in TRAINING:
        from chatrecipe.train.args import config_classes  # imports TRL: only when a training section is read

        return config_classes(name)
    raise RecipeError(f"unknown section {name!r}; sections are {', '.join(SECTIONS)}")


def check_section(name: str, recipe: dict) -> tuple:
    """Parse one section with its classes (raises RecipeError naming a bad key before any work)."""
    section = recipe.get(name)
    if name in TRAINING:
        from chatrecipe.train.args import with_defaults

        section = with_defaults(name, section)  # exactly what the trainer will be given
    return parse_section(section, *section_classes(name), where=name)
