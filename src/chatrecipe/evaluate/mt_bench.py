"""MT-Bench-style tables from judgments: 1-10 grades per model, category and turn, with confidence intervals.

Run as: `chatrecipe eval mt-bench --judgments single.jsonl [--json]`.

The numbers follow FastChat's `show_result.py`: the first-turn, second-turn and overall scores are plain means
of the valid grades (failed grades are excluded and counted, never scored), and pairwise results count wins,
losses and ties per model against the others. FastChat's `model_judgment/*_single.jsonl` and `*_pair.jsonl`
files are read as they are, so existing judgments can be tabulated without judging again.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from chatrecipe.stats import mean_interval


def single_scores(judgments: list[dict], questions: list[dict] | None = None) -> dict:
    """Per model: overall mean with 95% CI, per turn, per category, valid and failed counts."""
    categories = {q["question_id"]: q.get("category") for q in questions or []}
    by_model: dict = defaultdict(lambda: {"scores": [], "turns": defaultdict(list), "categories": defaultdict(list),
                                          "repeats": defaultdict(list), "failed": 0})
    for j in judgments:
        if j.get("kind") != "single":
            continue
        entry = by_model[j["model"]]
        if j.get("error") or j.get("score") is None:
            entry["failed"] += 1
            continue
        entry["scores"].append(j["score"])
        entry["repeats"][j.get("repeat", 0)].append(j["score"])
        entry["turns"][j.get("turn", 1)].append(j["score"])
        entry["categories"][categories.get(j["question_id"], j.get("category")) or "other"].append(j["score"])
    table = {}
    for model, entry in sorted(by_model.items()):
        low, high = mean_interval(entry["scores"])
        table[model] = {
            "score": float(np.mean(entry["scores"])) if entry["scores"] else None, "ci_low": low, "ci_high": high,
            "turns": {t: float(np.mean(v)) for t, v in sorted(entry["turns"].items())},
            "categories": {c: float(np.mean(v)) for c, v in sorted(entry["categories"].items())},
            "valid": len(entry["scores"]), "failed": entry["failed"]}
        if len(entry["repeats"]) > 1:  # re-judged N times: a score with its own error bar
            means = [float(np.mean(v)) for _, v in sorted(entry["repeats"].items())]
            table[model].update(repeat_scores=means, repeat_median=float(np.median(means)),
                                repeat_spread=max(means) - min(means))
    return table


def pairwise_counts(judgments: list[dict]) -> dict:
    """FastChat's pairwise tally: per model wins, losses, ties over games (both orders combined: agreeing orders
    give the winner, disagreeing ones a tie, a game with a failed verdict is skipped), and win rates."""
    from chatrecipe.judge.pairwise import combine_orders

    tally: dict = defaultdict(lambda: {"win": 0, "loss": 0, "tie": 0})
    games, _ = combine_orders([j for j in judgments if j.get("kind") == "pairwise"])
    for game in games:
        if game["error"] or game["winner"] is None:
            continue
        winner, a, b = game["winner"], game["model_a"], game["model_b"]
        if winner == "model_a":
            tally[a]["win"] += 1
            tally[b]["loss"] += 1
        elif winner == "model_b":
            tally[b]["win"] += 1
            tally[a]["loss"] += 1
        else:
            tally[a]["tie"] += 1
            tally[b]["tie"] += 1
    for counts in tally.values():
        total = counts["win"] + counts["loss"] + counts["tie"]
        counts["win_rate"] = counts["win"] / total if total else None
        counts["loss_rate"] = counts["loss"] / total if total else None
        counts["win_rate_adjusted"] = (counts["win"] + 0.5 * counts["tie"]) / total if total else None
    return dict(tally)


def radar_plot(table: dict, path: Path) -> Path:
    """Per-category scores of each model on one radar chart (the MT-Bench picture)."""
    from chatrecipe.data.plots import pyplot, save_figure

    plt = pyplot()

    categories = sorted({c for row in table.values() for c in row["categories"]})
    if len(categories) < 3:
        categories = categories + [f"({i})" for i in range(3 - len(categories))]
    angles = np.linspace(0, 2 * np.pi, len(categories), endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(5.2, 5.2), subplot_kw={"polar": True})
    for model, row in table.items():
        values = [row["categories"].get(c, 0) for c in categories]
        ax.plot(angles + angles[:1], values + values[:1], label=model)
        ax.fill(angles + angles[:1], values + values[:1], alpha=0.12)
    ax.set_xticks(angles, categories, fontsize=8)
    ax.set_ylim(0, 10)
    ax.set_title("MT-Bench-style grades by category", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, bbox_to_anchor=(1.25, -0.1))
    return save_figure(fig, path)


def load_judgments(paths: list[Path]) -> list[dict]:
    """Judgments in chatrecipe's or FastChat's layout (model_judgment/*_single.jsonl, *_pair.jsonl); a row that
    cannot be read stops the tabulation with its file, line and reason rather than shrinking the table."""
    from chatrecipe.data.records import RecordFileError, describe_rejection, load_records

    loaded = load_records(paths, "judgment")
    if loaded.rejected:
        shown = "; ".join(describe_rejection(r) for r in loaded.rejected[:5])
        raise RecordFileError(f"{len(loaded.rejected)} judgment rows could not be read: {shown}")
    return loaded.records
