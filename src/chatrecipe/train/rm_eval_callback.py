"""Score the reward model on preference test sets every N training steps, so its accuracy curve lands in the report.

Set in a recipe's `rm:` section: `test_sets: [rm:helpful.jsonl, data/hh-test.jsonl]` and `test_eval_steps: 20`.
Each evaluation appends one line per test set to `<output_dir>/rm_eval.jsonl`
(`{step, epoch, test_set, kind, accuracy, ties, failed, n, sha256, seconds}`); the `length` and `random`
baselines are written once at step 0 with their own `kind`, so a plot can draw them as flat lines under the
curve. Scoring is the benchmark's own (chatrecipe.train.reward_scoring), so the curve's last point and
`chatrecipe eval rm` on the final model agree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

from chatrecipe.data.records import write_rejected
from chatrecipe.data.strict_json import dumps
from chatrecipe.train.reward_scoring import (TestSet, length_scores, load_test_set, random_scores, rejected_entries,
                                             score_pairs, tally)

CURVE_FILE = "rm_eval.jsonl"


class RewardTestSetCallback(TrainerCallback):
    """Evaluates at step 0 (baselines and the untrained head), every `every` steps, and at the end of training."""

    def __init__(self, test_sets: list[str], every: int, output_dir: str | Path, tokenizer, *, batch_size: int = 8,
                 max_length: int | None = None, resumed: bool = False):
        self.sets: list[TestSet] = [load_test_set(ref) for ref in test_sets]
        self.every = every
        self.path = Path(output_dir) / CURVE_FILE
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.rejected = [r for s in self.sets for r in s.rejected]
        # a resumed run continues its curve; a fresh one starts a new file
        if not resumed and self.path.exists():
            self.path.unlink()
        self.done: set[int] = {row["step"] for row in read_curve(output_dir)}

    def _append(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(dumps(row) + "\n")

    def evaluate(self, model, step: int, epoch: float | None) -> list[dict]:
        """Score every set with `model` now; append and return the rows."""
        rows = []
        for test_set in self.sets:
            started = time.time()
            scores = score_pairs(model, self.tokenizer, test_set.rows, batch_size=self.batch_size,
                                 max_length=self.max_length)
            if step == 0:
                self.rejected += rejected_entries(test_set, scores, "reward-model")
            rows.append({"step": step, "epoch": epoch, "test_set": test_set.name, "kind": "reward-model",
                         **tally(scores), "sha256": test_set.sha256, "seconds": round(time.time() - started, 2)})
        self._append(rows)
        self.done.add(step)
        return rows

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        # transformers calls this before it restores a resumed run's step, so "step 0 already written" is the test
        if state.is_world_process_zero and 0 not in self.done:
            self._append([{"step": 0, "epoch": 0.0, "test_set": s.name, "kind": kind, **tally(scores),
                           "sha256": s.sha256, "seconds": 0.0}
                          for s in self.sets
                          for kind, scores in (("length", length_scores(s.rows)), ("random", random_scores(s.rows)))])
            self.evaluate(model, 0, 0.0)
            write_rejected(self.path, self.rejected)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if (state.is_world_process_zero and self.every and state.global_step % self.every == 0
                and state.global_step not in self.done):
            self.evaluate(model, state.global_step, state.epoch)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero and state.global_step not in self.done:
            self.evaluate(model, state.global_step, state.epoch)


def read_curve(output_dir: str | Path) -> list[dict]:
    """The rows of `rm_eval.jsonl` (empty when the run had no test sets)."""
    path = Path(output_dir) / CURVE_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def final_accuracies(output_dir: str | Path) -> dict:
    """`test_<set>_accuracy` (and its length baseline) at the last evaluated step, for metrics.json."""
    rows = read_curve(output_dir)
    model_rows = [r for r in rows if r["kind"] == "reward-model"]
    if not model_rows:
        return {}
    last = max(r["step"] for r in model_rows)
    found = {f"test_{r['test_set']}_accuracy": r["accuracy"] for r in model_rows if r["step"] == last}
    found.update({f"test_{r['test_set']}_length_baseline": r["accuracy"] for r in rows if r["kind"] == "length"})
    return found


def plot_curve(output_dir: str | Path) -> Path | None:
    """`test_accuracy.png`: accuracy per test set against the step, each set's length baseline dashed."""
    rows = read_curve(output_dir)
    if not any(r["kind"] == "reward-model" for r in rows):
        return None
    from chatrecipe.data.plots import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for index, name in enumerate(dict.fromkeys(r["test_set"] for r in rows)):
        colour = f"C{index % 10}"
        points = sorted((r["step"], r["accuracy"]) for r in rows
                        if r["test_set"] == name and r["kind"] == "reward-model" and r["accuracy"] is not None)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", color=colour, label=name)
        for r in rows:
            if r["test_set"] == name and r["kind"] == "length" and r["accuracy"] is not None:
                ax.axhline(r["accuracy"], color=colour, linestyle="--", linewidth=0.8, alpha=0.7)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy on test set")
    ax.set_ylim(0, 1)
    ax.set_title(f"{Path(output_dir).name}: RM test accuracy (dashed: longer response wins)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, Path(output_dir) / "test_accuracy.png")
