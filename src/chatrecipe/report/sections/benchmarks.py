"""Report sections for the benchmark leaderboards: reward-model accuracy (`rm_bench.json`) and standard
benchmarks through lm-evaluation-harness (`lm_bench.json`).

Both files already hold one row per (model, revision, dtype, ...); these functions only lay them out the way the
recipe's internal leaderboard does and attach the caveats that apply.
"""

from __future__ import annotations

from chatrecipe.report.sections.format import small_sample
from chatrecipe.stats import normal_interval, wilson


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _set_cell(entry: dict | None) -> str:
    """Accuracy % with its Wilson interval over the scored pairs, ties and failures beside it."""
    if entry is None:
        return ""
    extra = ", ".join(f"{entry[k]} {k}" for k in ("ties", "failed") if entry.get(k))
    figure = wilson(entry["correct"], entry["scored"]) if "correct" in entry and entry.get("scored") else None
    interval = f" [{100 * figure['ci_low']:.1f}, {100 * figure['ci_high']:.1f}]" if figure else ""
    return _pct(entry["accuracy"]) + interval + (f" ({extra})" if extra else "")


def scored_pair_warnings(row: dict, model: str) -> list[str]:
    """A warning per test set a scorer (not a baseline: those are not measured) scored on too few pairs."""
    if row["kind"] in ("length", "random"):
        return []
    return [w for name, entry in row["sets"].items()
            if (w := small_sample(entry.get("scored", 0), "scored pairs", f"{model} ({row['kind']}) on {name}"))]


def rm_bench_section(results: dict, names: dict[str, str] | None = None) -> tuple[dict, dict]:
    """The reward-model leaderboard (model, revision, dtype, kind, average, one column per set) beside the
    `length` and `random` baselines, with a warning wherever a model does no better than length alone.

    `names` maps a scorer's model reference to the checkpoint name the rest of the report uses.
    """
    names = names or {}
    columns = results.get("columns", [])
    rows, per_model, warnings = [], {}, []
    length = next((r for r in results["rows"] if r["kind"] == "length"), None)
    for row in sorted(results["rows"], key=lambda r: -(r["average"] if r["average"] is not None else -1)):
        model = names.get(row["model"], row["model"])
        rows.append([model, row.get("revision") or "", row.get("dtype") or "", row["kind"], _pct(row["average"]),
                     *[_set_cell(row["sets"].get(name)) for name in columns]])
        if row["kind"] in ("length", "random"):
            continue
        correct = sum(s.get("correct", 0) for s in row["sets"].values())
        scored = sum(s.get("scored", 0) for s in row["sets"].values())
        warnings += scored_pair_warnings(row, model)
        per_model.setdefault(model, {})[f"rm_accuracy ({row['kind']})"] = wilson(correct, scored)
        if length and row["average"] is not None and length["average"] is not None \
                and row["average"] <= length["average"]:
            warnings.append(f"{model} ({row['kind']}) is no more accurate than 'the longer response wins' "
                            f"({_pct(row['average'])}% vs {_pct(length['average'])}%): its preferences may be "
                            "mostly length.")
    sets = results.get("test_sets", {})
    section = {"title": "Reward-model benchmark: accuracy on held-out preference sets", "order": 85,
               "warnings": warnings,
               "text": "Share of pairs where the scorer prefers the chosen response (ties and failures counted "
                       "apart, never split). `length` prefers the longer response and `random` flips a coin: "
                       "read every accuracy against them. Average = unweighted mean over sets.",
               "tables": [{"title": "Reward-model leaderboard (%)",
                           "columns": ["model", "revision", "dtype", "kind", "average", *columns], "rows": rows},
                          {"title": "Test sets", "columns": ["set", "pairs", "rejected rows", "sha256"],
                           "rows": [[name, s.get("pairs"), s.get("rejected"), (s.get("sha256") or "")[:12]]
                                    for name, s in sorted(sets.items())]}],
               "provenance": {"test_sets": {k: v.get("sha256") for k, v in sets.items()}},
               "metrics": {r[0] + f" ({r[3]})": r[4] for r in rows}}
    return section, per_model


def lm_bench_section(results: dict, names: dict[str, str] | None = None) -> tuple[dict, dict]:
    """Standard benchmarks (ARC, HellaSwag, MMLU, TruthfulQA, ...) as one table of model by benchmark."""
    names = names or {}
    benchmarks = sorted({r["benchmark"] for r in results["rows"]})
    table: dict[tuple, dict] = {}
    per_model: dict = {}
    for row in results["rows"]:
        model = names.get(row["model"], row["model"])
        table.setdefault((model, row["revision"], row["dtype"]), {})[row["benchmark"]] = row
        if isinstance(row.get("value"), (int, float)):
            per_model.setdefault(model, {})[row["benchmark"]] = {"value": row["value"],
                                                                 **normal_interval(row["value"], row.get("stderr"))}
    rows = [[model, revision, dtype, *[_bench_cell(cells.get(b)) for b in benchmarks]]
            for (model, revision, dtype), cells in sorted(table.items())]
    warnings = [f"{names.get(r['model'], r['model'])}: {r['benchmark']} ran on a --limit of {r['limit']} items; "
                "not comparable with full runs." for r in results["rows"] if r.get("limit")]
    section = {"title": "Standard benchmarks (lm-evaluation-harness)", "order": 87, "warnings": warnings,
               "text": "Each cell: the task's headline metric ± standard error, few-shot count, chat template on "
                       "or off.",
               "tables": [{"title": "Benchmarks", "columns": ["model", "revision", "dtype", *benchmarks],
                           "rows": rows}],
               "metrics": {f"{m} {b}": v["value"] for m, values in per_model.items() for b, v in values.items()}}
    return section, per_model


def _bench_cell(row: dict | None) -> str:
    if row is None or row.get("value") is None:
        return ""
    stderr = f" ± {100 * row['stderr']:.1f}" if isinstance(row.get("stderr"), (int, float)) else ""
    template = "chat" if row.get("chat_template") else "plain"
    return f"{100 * row['value']:.1f}{stderr} ({row.get('num_fewshot')}-shot, {template})"
