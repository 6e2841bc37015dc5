"""What the report reads from a run folder: the section files stages wrote (`<stage>/report.json`,
`eval/sections/*.json`, in the shape report/sections/__init__.py describes), the training folders' own files, and
the per-model headlines (`eval/summary.json`) the cross-run leaderboard collects. Files only: no stage is imported.
"""

from __future__ import annotations

import json
from pathlib import Path

from chatrecipe.report.sections.training import TRAINING_STAGES, training_section


def read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _recipe(run_dir: Path) -> dict:
    import yaml

    try:
        return yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def run_sections(run_dir: Path) -> list[dict]:
    """Every section a run folder holds, in reading order: data, training, evaluation."""
    sections = []
    for path in [run_dir / "synth" / "report.json", run_dir / "data" / "report.json",
                 *sorted((run_dir / "eval" / "sections").glob("*.json"))]:
        section = read_json(path)
        if isinstance(section, dict):
            sections.append(section)
    recipe = _recipe(run_dir)
    for stage in TRAINING_STAGES:
        metrics = read_json(run_dir / stage / "metrics.json")
        if isinstance(metrics, dict):
            plots = sorted(str(p.relative_to(run_dir)) for p in (run_dir / stage).glob("*.png"))
            sections.append(training_section(stage, metrics, recipe.get(stage) or {}, run_dir / stage, plots))
    return sorted(sections, key=lambda s: s.get("order", 50))


def mean_prompt_tokens(run_dir: Path) -> float | None:
    """Average prompt length (tokens) of the SFT data a run trained on, from the data stage's stats."""
    stats = read_json(run_dir / "data" / "stats-sft" / "stats.json") or {}
    rows = [r for r in stats.get("lengths", []) if r.get("part") == "prompt" and r.get("count")]
    total = sum(r["count"] for r in rows)
    return sum(r["count"] * r["mean"] for r in rows) / total if total else None


def run_summary(run_dir: Path) -> dict:
    """Headline per-model metrics of a run (`eval/summary.json`, with the judge's audit verdict) plus its manifest,
    for leaderboards and the report's opening summary."""
    evaluation = read_json(run_dir / "eval" / "summary.json") or {}
    return {
        "run": run_dir.name,
        "path": str(run_dir),
        "manifest": read_json(run_dir / "manifest.json") or {},
        "models": evaluation.get("models", {}),
        "judge_audit": evaluation.get("judge_audit"),
        "sweep": read_json(run_dir / "sweep.json"),
        "mean_prompt_tokens": mean_prompt_tokens(run_dir),
    }
