"""The report's unit: a section (title, text, tables, plots, provenance, warnings) read from a run folder.

Stages describe their results as section files (`<stage>/report.json`, `eval/sections/*.json`) in this shape:

    {"title": str, "order": int, "text": str, "tables": [{"title", "columns", "rows", "note"}],
     "plots": ["relative/path.png"], "provenance": {...}, "warnings": [str], "metrics": {...}}

so the report reads files and imports no stage. Training folders are summarised here from what the trainers
write (`metrics.json`, `log_history.json`, PNG curves), because trainers should not know about reports.
"""

from __future__ import annotations

import json
from pathlib import Path

TRAINING_STAGES = ("sft", "rm", "dpo", "rl")
SETTINGS = ("method", "num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type",
            "per_device_train_batch_size", "gradient_accumulation_steps", "lora_r", "lora_alpha", "beta", "bf16")


def read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _recipe(run_dir: Path) -> dict:
    import yaml

    try:
        return yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def training_section(run_dir: Path, stage: str) -> dict | None:
    """A section for one training stage from its metrics, effective settings and curves."""
    folder = run_dir / stage
    metrics = read_json(folder / "metrics.json")
    if not isinstance(metrics, dict):
        return None
    section_cfg = (_recipe(run_dir).get(stage) or {})
    settings = metrics.get("settings") or {k: section_cfg.get(k) for k in SETTINGS if k in section_cfg}
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and k != "settings"}
    plots = sorted(str(p.relative_to(run_dir)) for p in folder.glob("*.png"))
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


def run_sections(run_dir: Path) -> list[dict]:
    """Every section a run folder holds, in reading order: data, training, evaluation."""
    sections = []
    for path in [run_dir / "synth" / "report.json", run_dir / "data" / "report.json",
                 *sorted((run_dir / "eval" / "sections").glob("*.json"))]:
        section = read_json(path)
        if isinstance(section, dict):
            sections.append(section)
    for stage in TRAINING_STAGES:
        section = training_section(run_dir, stage)
        if section:
            sections.append(section)
    return sorted(sections, key=lambda s: s.get("order", 50))


def mean_prompt_tokens(run_dir: Path) -> float | None:
    """Average prompt length (tokens) of the SFT data a run trained on, from the data stage's stats."""
    stats = read_json(run_dir / "data" / "stats-sft" / "stats.json") or {}
    rows = [r for r in stats.get("lengths", []) if r.get("part") == "prompt" and r.get("count")]
    total = sum(r["count"] for r in rows)
    return sum(r["count"] * r["mean"] for r in rows) / total if total else None


def run_summary(run_dir: Path) -> dict:
    """Headline per-model metrics of a run (`eval/summary.json`) plus its manifest, for leaderboards."""
    return {
        "run": run_dir.name,
        "path": str(run_dir),
        "manifest": read_json(run_dir / "manifest.json") or {},
        "models": (read_json(run_dir / "eval" / "summary.json") or {}).get("models", {}),
        "sweep": read_json(run_dir / "sweep.json"),
        "mean_prompt_tokens": mean_prompt_tokens(run_dir),
    }
