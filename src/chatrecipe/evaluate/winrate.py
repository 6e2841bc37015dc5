"""Win rates against a baseline from pairwise judgments: ties count half, with standard error and bootstrap interval.

Run as: `chatrecipe eval winrate judgments.jsonl --model sft --baseline base [--json]`.

Judgments are chatrecipe's records or FastChat's `*_pair.jsonl` (both orders are first combined, MT-Bench
style), or AlpacaEval annotation files as published (`preference` 1 or 2, fractional allowed), so judgments
already paid for can be reused. Without `--model`, every pair in the files gets its row. Failed judgments are
excluded and counted, never scored as ties.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


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
    (read as 1.5); values in between are soft preferences. Rows without a usable preference (failed annotations,
    values AlpacaEval itself drops) come back with None and the reason in `error`, to be counted, never scored.
    """
    from chatrecipe.data.eval_formats.alpaca_eval import is_annotation, preference
    from chatrecipe.data.records import iter_rows

    out = []
    for row in iter_rows(path):
        if row.error:
            raise WinRateError(f"{row.file}:{row.line}: {row.error}")
        if not is_annotation(row.data):
            missing = [k for k in ("instruction", "output_1", "output_2", "generator_1", "generator_2")
                       if k not in row.data]
            raise WinRateError(f"{row.file}: row {row.line}: missing {', '.join(missing)}; not an AlpacaEval "
                               "annotation file")
        value, problem = preference(row.data.get("preference"))
        out.append({**row.data, "preference": value, "error": problem})
    return out


def preferences_from_alpaca(annotations: list[dict], model: str | None = None) -> tuple[list[float], dict]:
    """Preference for generator_2 (the evaluated model) over generator_1 (the reference): preference - 1."""
    rows = [a for a in annotations if model is None or a["generator_2"] == model]
    failures = sum(1 for a in rows if a["preference"] is None)
    return [a["preference"] - 1.0 for a in rows if a["preference"] is not None], {"excluded_failures": failures}


def win_rate(scores: list[float], *, bootstrap: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Mean preference with its standard error and a percentile bootstrap interval (in [0, 1]; none when
    `bootstrap` is 0 or there is one item). Wins, ties and losses count preferences above, at and below one half, as AlpacaEval does,
    so soft preferences from weighted annotators are counted too."""
    if not scores:
        raise WinRateError("no usable judgments: every verdict failed or none were given")
    values = np.asarray(scores, dtype=float)
    n = len(values)
    mean = float(values.mean())
    # one item has no spread: no standard error and no interval (None, never NaN: the figures go into JSON)
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    low = high = None
    if bootstrap > 0 and n > 1:
        rng = np.random.default_rng(seed)
        samples = values[rng.integers(0, n, size=(bootstrap, n))].mean(axis=1)
        alpha = (1 - confidence) / 2
        low, high = (float(q) for q in np.quantile(samples, [alpha, 1 - alpha]))
    return {"value": mean, "se": se, "ci_low": low, "ci_high": high, "n": n,
            "wins": int((values > 0.5).sum()), "ties": int((values == 0.5).sum()),
            "losses": int((values < 0.5).sum()), "strict_win_rate": float((values > 0.5).mean()),
            "loss_rate": float((values < 0.5).mean())}


def _models_line(pairs: list[tuple[str, str]]) -> str:
    return "; ".join(f"{m} vs {b}" for m, b in pairs) or "none"


def _select(pairs: list[tuple[str, str]], model: str | None, baseline: str | None, ordered: bool) -> list:
    """The (model, baseline) pairs asked for; an unknown name is an error that lists what the files hold.

    `ordered`: AlpacaEval annotations fix which side is the reference; judgments can be read either way round."""
    chosen = []
    for a, b in pairs:
        for m, r in ((a, b),) if ordered or model is None and baseline is None else ((a, b), (b, a)):
            seen = chosen if ordered else [*chosen, *((y, x) for x, y in chosen)]  # judged both ways round: once
            if (model is None or m == model) and (baseline is None or r == baseline) and (m, r) not in seen:
                chosen.append((m, r))
    if not chosen:
        names = sorted({x for pair in pairs for x in pair})
        asked = " vs ".join(x for x in (model, baseline) if x)
        raise WinRateError(f"no pairwise judgments for {asked}; the files hold {_models_line(pairs)} "
                           f"(models: {', '.join(names)})")
    return chosen


def _no_pairwise(paths: list[Path], loaded) -> str:
    """What the files hold instead of pairwise judgments, and where that goes."""
    from collections import Counter

    from chatrecipe.data.records import describe_rejection

    kinds = Counter(j.get("kind") for j in loaded.records)
    held = [f"{n} {kind} judgments" for kind, n in kinds.items()]
    if loaded.rejected:
        held.append(f"{len(loaded.rejected)} rows that are not judgments ({describe_rejection(loaded.rejected[0])})")
    hint = "; single grades go to `eval mt-bench`" if kinds.get("single") else ""
    return (f"no pairwise judgments in {', '.join(map(str, paths))}: found {', '.join(held) or 'nothing'}; eval "
            f"winrate reads pairwise judgments (chatrecipe's, FastChat's *_pair.jsonl) or AlpacaEval "
            f"annotations{hint}")


def winrate_table(paths: list[Path], model: str | None = None, baseline: str | None = None, *,
                  bootstrap: int = 2000, seed: int = 0, lc: str | None = None, lc_data: dict | None = None) -> dict:
    """Win rates of every (model, baseline) pair in the files, or those `model` / `baseline` pick.

    Files are AlpacaEval annotations (soft preferences kept; `lc` adds the length-controlled win rate), or
    pairwise judgments in chatrecipe's or FastChat's layout (both orders combined, MT-Bench style: FastChat's
    show_result.py counts; `value` is its adjusted win rate). Returns {"format", "pairs": [{model, baseline,
    value, se, ci_low, ci_high, n, wins, ties, losses, excluded_failures, ...}], "rejected"}.
    """
    from chatrecipe.data.eval_formats.alpaca_eval import is_annotation
    from chatrecipe.data.records import iter_rows, load_records
    from chatrecipe.evaluate.length_control import LengthControlError, check_alignment

    heads = {str(p): next((r.data for r in iter_rows(p) if r.data is not None), None) for p in paths}
    unreadable = [p for p, head in heads.items() if head is None]
    if unreadable:
        raise WinRateError(f"{', '.join(unreadable)}: no readable row (an empty file?); give pairwise judgment files "
                           "or AlpacaEval annotations")
    annotation_files = [p for p, head in heads.items() if head is not None and is_annotation(head)]
    if annotation_files and len(annotation_files) != len(paths):
        raise WinRateError("give AlpacaEval annotation files or pairwise judgment files, not both: annotations in "
                           + ", ".join(annotation_files))
    rows = []
    if annotation_files:
        annotations = [a for p in paths for a in read_alpaca_eval_annotations(p)]
        found = list(dict.fromkeys((a["generator_2"], a["generator_1"]) for a in annotations))
        for m, b in _select(found, model, baseline, ordered=True):
            mine = [a for a in annotations if (a["generator_2"], a["generator_1"]) == (m, b)]
            try:
                check_alignment(mine)  # each instruction once, else one of several files was passed twice
            except LengthControlError as exc:
                raise WinRateError(f"{m} vs {b}: {exc}; pass each model's annotations once") from None
            scores, stats = preferences_from_alpaca(mine)
            row = {"model": m, "baseline": b, **win_rate(scores, bootstrap=bootstrap, seed=seed), **stats}
            if lc:
                from chatrecipe.evaluate.length_control import lc_win_rate

                row["length_controlled"] = lc_win_rate(mine, lc, lc_data=lc_data)
            rows.append(row)
        return {"format": "alpaca_eval", "pairs": rows, "rejected": []}
    if lc:
        raise WinRateError("length control needs AlpacaEval annotations, which carry both outputs' texts; these "
                           "are judgment files")
    loaded = load_records(paths, "judgment")
    judgments = [j for j in loaded.records if j.get("kind") == "pairwise"]
    if not judgments:
        raise WinRateError(_no_pairwise(paths, loaded))
    found = list(dict.fromkeys((j["model_a"], j["model_b"]) for j in judgments))
    for m, b in _select(found, model, baseline, ordered=False):
        scores, stats = preferences_from_judgments(judgments, m, b)
        rows.append({"model": m, "baseline": b, **win_rate(scores, bootstrap=bootstrap, seed=seed), **stats})
    return {"format": "judgments", "pairs": rows, "rejected": loaded.rejected}


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
