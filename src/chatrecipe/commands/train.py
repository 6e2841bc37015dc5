"""`chatrecipe train sft|rm|dpo|rl --config RECIPE.yaml`: one training stage on its own, outside `chatrecipe run`.

Each stage reads its own section of the recipe (plus `model` and `data`); `--set` overrides keys of that section
(or any section with a dotted key). The same stages run under `accelerate launch -m chatrecipe.train.sft`, through
train/launch.py, which this command shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.messages import fail
from chatrecipe.commands.options import ALLOW_PICKLE, apply_allow_pickle

app = typer.Typer(help="Train on TRL: SFT (full, LoRA, QLoRA), reward models, DPO, online RL with a reward model.",
                  no_args_is_help=True, add_completion=False)
SUMMARIES = {"sft": "Supervised fine-tuning on conversations (assistant-only loss).",
             "rm": "Train a reward model on preference pairs (margin-aware).",
             "dpo": "Direct preference optimisation from a (SFT) model.",
             "rl": "Online RL (RLOO) rewarded by a trained reward model."}


def _module(stage: str):
    from chatrecipe.train import dpo, reward, rl, sft

    return {"sft": sft, "rm": reward, "dpo": dpo, "rl": rl}[stage]


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
        allow_pickle: bool = ALLOW_PICKLE,
    ) -> None:
        apply_allow_pickle(allow_pickle)
        from chatrecipe.recipe import RecipeError
        from chatrecipe.train.launch import resolve
        from chatrecipe.train.outputs import TrainingInputError

        try:
            job = resolve(stage, config, set_, output_dir, str(resume) if resume else not fresh, reward_model, model)
            metrics = _module(stage).run(**job.run_kwargs())
        except (RecipeError, TrainingInputError) as exc:
            fail(str(exc))
        typer.echo({k: v for k, v in metrics.items() if k != "settings"})

    command.__doc__ = SUMMARIES[stage]
    return command


for _stage in SUMMARIES:
    app.command(_stage)(_command(_stage))
