"""Win rates against a baseline from pairwise judgments: ties count half, with standard error and bootstrap interval.

Run as: `chatrecipe eval winrate judgments.jsonl --model sft --baseline base [--json]`.

Judgments are chatrecipe's records (both orders are first combined, MT-Bench style) or AlpacaEval annotation
files as published (`preference` 1 or 2, fractional allowed), so judgments already paid for can be reused.
Failed judgments are excluded and counted, never scored as ties.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from chatrecipe.data.records import read_jsonl


class WinRateError(ValueError):
    """Judgments that cannot give a win rate (no usable verdict, unknown models); the message names them."""


def preferences_from_judgments(judgments: list[dict], model: str, baseline: str) -> tuple[list[float], dict]:
    """Per-item preference for `model` over `baseline` (1 win, 0.5 tie, 0 loss) after combining orders."""
    from chatrecipe.judge.pairwise import combine_orders

    relevant = [j for j in judgments if {j.get("model_a"), j.get("model_b")} == {model, baseline}]
    if not relevant:
        pairs = sorted({f"{j.get('model_a')} vs {j.get('model_b')}" for j in judgments})
        raise WinRateError(f"no pairwise judgments between {model!r} and {baseline!r}; found: {', '.join(pairs)}")
    combined, stats = combine_orders(relevant)
    scores = []
    for item in combined:
        if item["error"] or item["winner"] is None:
            continue
        winner = item["winner"]
        named = item["model_a"] if winner == "model_a" else item["model_b"] if winner == "model_b" else None
        scores.append(0.5 if named is None else 1.0 if named == model else 0.0)
    stats["excluded_failures"] = stats.pop("failed")
    return scores, stats


def read_alpaca_eval_annotations(path: str | Path) -> list[dict]:
    """AlpacaEval annotations (instruction, output_1/2, generator_1/2, preference in [1, 2]) as they are published.

    AlpacaEval's convention: preference 1 means output_1 (the reference) wins, 2 means output_2 wins, 0 is a tie
    (read as 1.5); values in between are soft preferences. Rows without a preference (failed annotations) come
    back with None.
    """
    import json

    text = Path(path).read_text(encoding="utf-8")
    rows = json.loads(text) if text.lstrip().startswith("[") else read_jsonl(path)
    out = []
    for index, row in enumerate(rows):
        missing = [k for k in ("instruction", "generator_1", "generator_2") if k not in row]
        if missing:
            raise WinRateError(f"{path}: row {index}: missing {', '.join(missing)}; not an AlpacaEval annotation file")
        preference = row.get("preference")
        if preference is not None and float(preference) == 0:
            preference = 1.5  # AlpacaEval writes a tie as 0
        if preference is not None and not (1 <= float(preference) <= 2):
            raise WinRateError(f"{path}: row {index}: preference {preference} outside [1, 2] (0 for a tie)")
        out.append({**row, "preference": None if preference is None else float(preference)})
    return out


def preferences_from_alpaca(annotations: list[dict], model: str | None = None) -> tuple[list[float], dict]:
    """Preference for generator_2 (the evaluated model) over generator_1 (the reference): preference - 1."""
    rows = [a for a in annotations if model is None or a["generator_2"] == model]
    failures = sum(1 for a in rows if a["preference"] is None)
    return [a["preference"] - 1.0 for a in rows if a["preference"] is not None], {"excluded_failures": failures}


def win_rate(scores: list[float], *, bootstrap: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Mean preference with its standard error and a percentile bootstrap interval (in [0, 1])."""
    if not scores:
        raise WinRateError("no usable judgments: every verdict failed or none were given")
    values = np.asarray(scores, dtype=float)
    n = len(values)
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    rng = np.random.default_rng(seed)
    samples = values[rng.integers(0, n, size=(bootstrap, n))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return {"value": mean, "se": se, "ci_low": float(low), "ci_high": float(high), "n": n,
            "wins": int((values == 1).sum()), "ties": int((values == 0.5).sum()), "losses": int((values == 0).sum())}


def winrate_from_files(paths: list[Path], model: str | None, baseline: str | None, **kwargs) -> dict:
    """Win rate from chatrecipe judgment files or AlpacaEval annotation files (detected by their fields)."""
    import json

    first = Path(paths[0]).read_text(encoding="utf-8").lstrip()
    head = json.loads(first.splitlines()[0]) if not first.startswith("[") else json.loads(first)[0]
    if "generator_1" in head:
        annotations = [a for p in paths for a in read_alpaca_eval_annotations(p)]
        scores, stats = preferences_from_alpaca(annotations, model)
    else:
        judgments = [j for p in paths for j in read_jsonl(p)]
        if model is None or baseline is None:
            raise WinRateError("--model and --baseline are required for chatrecipe judgment files")
        scores, stats = preferences_from_judgments(judgments, model, baseline)
    return {**win_rate(scores, **kwargs), **stats}


def pairwise_win_rates(pairwise: list[dict], answers: dict[str, list[dict]], seed: int = 0) -> list[dict]:
    """Every (model, baseline) pair of the judgments: its win rate with interval, the length-controlled win rate
    (AlpacaEval's minimal GLM), position consistency and the longer answer's share of decisive verdicts — or the
    reason a figure could not be computed, so the report can say it instead of leaving a gap."""
    from chatrecipe.evaluate.audit import length_bias
    from chatrecipe.evaluate.length_control import LengthControlError, annotations_from_judgments, lc_win_rate

    results = []
    for model, baseline in sorted({(j["model_a"], j["model_b"]) for j in pairwise}):
        entry: dict = {"model": model, "baseline": baseline}
        results.append(entry)
        try:
            scores, stats = preferences_from_judgments(pairwise, model, baseline)
            entry["win_rate"] = win_rate(scores, seed=seed)
        except WinRateError as exc:
            entry["error"] = str(exc)
            continue
        entry.update(excluded_failures=stats["excluded_failures"], consistency=stats.get("consistency"))
        try:
            entry["length_controlled"] = lc_win_rate(annotations_from_judgments(pairwise, answers, model, baseline),
                                                     "minimal")
        except LengthControlError as exc:
            entry["length_controlled_error"] = str(exc)
        pair = [j for j in pairwise if {j["model_a"], j["model_b"]} == {model, baseline}]
        entry["longer_wins_share"] = length_bias(pair, {k: v for k, v in answers.items()
                                                        if k in (model, baseline)})["longer_wins_share"]
    return results
