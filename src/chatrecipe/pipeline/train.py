"""The training sections of a recipe (`sft`, `rm`, `dpo`, `rl`) in a run: which model each starts from and which
data it reads. The training itself is train/<method>.py, a thin module over a TRL trainer.

SFT starts from the recipe's model; the reward model and DPO start from the SFT model when the run has one; RL
starts from the SFT model and is rewarded by the run's reward model.
"""

from __future__ import annotations

from pathlib import Path

from chatrecipe.pipeline.context import Run
from chatrecipe.recipe import RecipeError


def _trained(metrics: dict, output_dir: Path, key: str) -> dict:
    return {"metrics": metrics, "artifacts": {key: str(output_dir / "final")}}


def run_sft(run: Run) -> dict:
    from chatrecipe.train import sft

    out = run.stage_dir("sft")
    metrics = sft.run(run.section("sft"), model=run.model, train_files=[run.artifacts["sft_data"]],
                      output_dir=out, seed=run.seed)
    return _trained(metrics, out, "sft_model")


def run_rm(run: Run) -> dict:
    from chatrecipe.train import reward

    out = run.stage_dir("rm")
    metrics = reward.run(run.section("rm"), model=run.artifacts.get("sft_model") or run.model,
                         train_files=[run.artifacts["preference_data"]], output_dir=out, seed=run.seed)
    return _trained(metrics, out, "reward_model")


def run_dpo(run: Run) -> dict:
    from chatrecipe.train import dpo

    out = run.stage_dir("dpo")
    metrics = dpo.run(run.section("dpo"), model=run.artifacts.get("sft_model") or run.model,
                      train_files=[run.artifacts["preference_data"]], output_dir=out, seed=run.seed)
    return _trained(metrics, out, "dpo_model")


def run_rl(run: Run) -> dict:
    from chatrecipe.train import rl

    if not run.artifacts.get("reward_model"):
        raise RecipeError("rl: needs a reward model; add an `rm:` section before `rl:`")
    out = run.stage_dir("rl")
    metrics = rl.run(run.section("rl"), model=run.artifacts.get("sft_model") or run.model,
                     reward_model=run.artifacts["reward_model"], prompt_files=[run.artifacts["preference_data"]],
                     output_dir=out, seed=run.seed)
    return _trained(metrics, out, "rl_model")
