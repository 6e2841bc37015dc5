"""`chatrecipe eval rm`: how often a reward model prefers the chosen response, per preference test set and averaged.

Run as: `chatrecipe eval rm rm:helpful.jsonl rm:truthful.jsonl --scorer runs/demo/rm/final -o runs/demo/eval`.

The recipe judged reward models on held-out preference sets (Anthropic Helpful, OpenAssistant, SHP, Learn to
Summarize; `chatrecipe data convert` turns those into preference records) and kept one internal leaderboard:
model, revision, dtype, average, one column per set. `<output>/rm_bench.json` is that leaderboard. Each run adds
or replaces its rows, so models and revisions scored on different days end up in one table. The `length` and
`random` scorers are always added: an accuracy means little until it is read against what length alone gets.
Equal scores are counted as ties beside the accuracy, never split; pairs that could not be scored (too long for
the context, a failed judge verdict) are counted as failed and written with their reason to
`<output>/rm_bench.rejected.jsonl`, as are test-set rows that are not valid preference records.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from chatrecipe.data.records import write_rejected
from chatrecipe.evaluate.rm_scorers import BASELINES, Variant, build_scorer
from chatrecipe.stats import wilson
from chatrecipe.train.reward_scoring import TestSet, load_test_set, rejected_entries, tally

RESULT_FILE = "rm_bench.json"


def with_baselines(specs: list[str]) -> list[str]:
    """The scorers to run: the baselines first (cheap, and the yardstick), then the given ones, once each."""
    ordered = list(BASELINES) + [s for s in specs if s not in BASELINES]
    return list(dict.fromkeys(ordered))


def row_key(row: dict) -> tuple:
    return row["model"], row.get("revision"), row.get("dtype"), row["kind"]


def leaderboard_row(variant: Variant, per_set: dict[str, dict], provenance: dict) -> dict:
    """One leaderboard row: per-set tallies, the unweighted mean of per-set accuracies, and totals."""
    accuracies = [s["accuracy"] for s in per_set.values() if s["accuracy"] is not None]
    return {"model": variant.model, "revision": variant.revision, "dtype": variant.dtype, "kind": variant.kind,
            "average": statistics.fmean(accuracies) if accuracies else None, "sets": per_set,
            "n": sum(s["n"] for s in per_set.values()), "ties": sum(s["ties"] for s in per_set.values()),
            "failed": sum(s["failed"] for s in per_set.values()),
            "provenance": {**provenance, **variant.settings}}


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """Rows of the same model, revision, dtype and kind are merged set by set (the newer result wins)."""
    merged = {row_key(r): r for r in old}
    for row in new:
        previous = merged.get(row_key(row))
        if previous:
            sets = {**previous["sets"], **row["sets"]}
            row = leaderboard_row(Variant(row["model"], row["kind"], row["revision"], row["dtype"]), sets,
                                  row["provenance"])
        merged[row_key(row)] = row
    return sorted(merged.values(), key=lambda r: (-(r["average"] if r["average"] is not None else -1), r["model"]))


def read_results(output_dir: Path) -> dict:
    path = Path(output_dir) / RESULT_FILE
    return json.loads(path.read_text()) if path.is_file() else {"rows": [], "test_sets": {}}


def run_bench(test_refs: list[str], scorer_specs: list[str], output_dir: str | Path, *, batch_size: int = 8,
              dtype: str = "float32", max_length: int | None = None, reference: str | None = None, seed: int = 0,
              prefill: bool = False, scorers: list | None = None) -> dict:
    """Score every test set with every scorer, merge the rows into `<output_dir>/rm_bench.json`, return it.

    `scorers` adds ready-made Scorer objects (a judge over a scripted backend, for instance) after the specs.
    """
    from chatrecipe.progress import progress_bar

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    sets: list[TestSet] = [load_test_set(ref) for ref in test_refs]
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ValueError(f"two test sets share the name {sorted(n for n in names if names.count(n) > 1)[0]!r}; "
                         "rename one file (the name is the table's column)")
    rejected = [{**r, "scorer": None} for s in sets for r in s.rejected]
    base = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "batch_size": batch_size,
            "test_sets": {s.name: s.sha256 for s in sets}}
    rows = []
    pending = [(spec, None) for spec in with_baselines(scorer_specs)] + [(None, s) for s in scorers or []]
    for spec, scorer in pending:
        scorer = scorer or build_scorer(spec, output_dir=output_dir, dtype=dtype, max_length=max_length,
                                        reference=reference, seed=seed, batch_size=batch_size, prefill=prefill)
        per_variant: dict[str, dict] = {v.kind: {} for v in scorer.variants}
        started = time.time()
        try:
            for test_set in sets:
                with progress_bar(f"{scorer.variants[0].model} on {test_set.name}", scorer.work(test_set)) as advance:
                    found = scorer.score(test_set, batch_size=batch_size, progress=advance)
                for kind, scores in found.items():
                    per_variant[kind][test_set.name] = {**tally(scores), "sha256": test_set.sha256}
                    rejected += rejected_entries(test_set, scores, f"{scorer.variants[0].model} ({kind})")
        finally:
            scorer.close()
        seconds = round(time.time() - started, 2)
        for variant in scorer.variants:
            rows.append(leaderboard_row(variant, per_variant[variant.kind],
                                        {**base, "scorer": spec or variant.kind, "seconds": seconds}))
    results = read_results(output_dir)
    results["rows"] = merge_rows(results.get("rows", []), rows)
    results["test_sets"] = {**results.get("test_sets", {}),
                            **{s.name: {"path": s.path, "sha256": s.sha256, "pairs": len(s.rows),
                                        "rejected": len(s.rejected)} for s in sets}}
    results["columns"] = sorted({name for r in results["rows"] for name in r["sets"]})
    (output_dir / RESULT_FILE).write_text(json.dumps(results, indent=1))
    write_rejected(output_dir / RESULT_FILE, rejected)
    results["this_run"] = [row_key(r) for r in rows]
    return results


def format_table(results: dict) -> str:
    """The leaderboard as text: accuracy % per set with its 95% Wilson interval, ties and failures where there are
    any."""
    columns = results["columns"]
    header = ["model", "revision", "dtype", "kind", "average"] + columns
    lines = [header]
    for row in results["rows"]:
        cells = [row["model"][-40:], str(row.get("revision") or ""), str(row.get("dtype") or ""), row["kind"],
                 _pct(row["average"])]
        for name in columns:
            entry = row["sets"].get(name)
            if entry is None:
                cells.append("")
                continue
            extra = ", ".join(f"{entry[k]} {k}" for k in ("ties", "failed") if entry[k])
            figure = wilson(entry["correct"], entry["scored"]) if entry.get("scored") else None
            interval = f" [{100 * figure['ci_low']:.1f}, {100 * figure['ci_high']:.1f}]" if figure else ""
            cells.append(_pct(entry["accuracy"]) + interval + (f" ({extra})" if extra else ""))
        lines.append(cells)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"
