"""The training sections of the report, one per stage that trained (sft, rm, dpo, rl), summarised from what the
trainers write (`metrics.json`, `log_history.json`, PNG curves): trainers should not know about reports."""

from __future__ import annotations

from pathlib import Path

TRAINING_STAGES = ("sft", "rm", "dpo", "rl")
SETTINGS = ("method", "num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type",
            "per_device_train_batch_size", "gradient_accumulation_steps", "lora_r", "lora_alpha", "beta", "bf16")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def training_section(stage: str, metrics: dict, recipe_section: dict, folder: Path, plots: list[str]) -> dict:
    """A section for one training stage from its `metrics.json`, the recipe's section (for settings the metrics do
    not record) and its curve plots (paths relative to the run folder)."""
    settings = metrics.get("settings") or {k: recipe_section.get(k) for k in SETTINGS if k in recipe_section}
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and k != "settings"}
    titles = {"sft": "Supervised fine-tuning", "rm": "Reward model", "dpo": "DPO", "rl": "Online RL"}
    return {
        "title": f"Training: {titles[stage]}",
        "order": 20 + TRAINING_STAGES.index(stage),
        "tables": [
            {"title": "Results", "columns": ["metric", "value"], "rows": [[k, _fmt(v)] for k, v in scalars.items()]},
            {"title": "Effective settings", "columns": ["setting", "value"],
             "rows": [[k, _fmt(v)] for k, v in settings.items()]},
        ],
        "plots": plots,
        "provenance": {"folder": str(folder), "model": str(folder / "final")},
        "metrics": scalars,
    }
