"""The recipe's data tables: length distribution per source and split, task distribution against a target mix,
turns per dialog, and for preference data the margins and the chosen-vs-rejected length difference.

Run as: `chatrecipe data stats train.jsonl --tokenizer smollm2-135m-instruct --target instructgpt -o stats/`.

Lengths are in tokens of the given tokenizer (the recipe's tables count tokens), of prompts, completions and
whole examples. Outputs: terminal tables, Markdown, CSV, JSON and PNG plots the report embeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chatrecipe.data.mixes import load_mix
from chatrecipe.data.text import completion_text, prompt_text

LENGTH_COLUMNS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


def _length(text: str, tokenizer) -> int:
    if tokenizer is None:
        return len(text.split())
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def describe(values: list[float]) -> dict:
    """count, mean, std, min, quartiles, max — the columns of the recipe's length tables."""
    if not values:
        return {c: 0 for c in LENGTH_COLUMNS}
    array = np.asarray(values, dtype=float)
    q = np.percentile(array, [25, 50, 75])
    return {"count": int(len(array)), "mean": round(float(array.mean()), 1),
            "std": round(float(array.std(ddof=1)) if len(array) > 1 else 0.0, 1), "min": int(array.min()),
            "25%": round(float(q[0]), 1), "50%": round(float(q[1]), 1), "75%": round(float(q[2]), 1),
            "max": int(array.max())}


def dataset_stats(records: list[dict], tokenizer=None, target_mix: str | dict | None = None) -> dict:
    """Every table of the recipe for one set of records, as JSON-able dicts (lengths in tokens)."""
    groups: dict[tuple, dict[str, list]] = {}
    categories: dict[str, list] = {}
    turns, margins, length_diffs = [], [], []
    for record in records:
        prompt = _length(prompt_text(record), tokenizer)
        completion = _length(completion_text(record), tokenizer)
        key = (record.get("source") or "-", record.get("split") or "-")
        group = groups.setdefault(key, {"prompt": [], "completion": [], "total": []})
        group["prompt"].append(prompt)
        group["completion"].append(completion)
        group["total"].append(prompt + completion)
        categories.setdefault(record.get("category") or "other", []).append(prompt + completion)
        if "messages" in record:
            turns.append(sum(1 for m in record["messages"] if m["role"] == "user"))
        else:
            turns.append(sum(1 for m in record.get("prompt", []) if m["role"] == "user"))
        if "rejected" in record:
            rejected = _length("\n".join(m["content"] for m in record["rejected"]), tokenizer)
            length_diffs.append(completion - rejected)
            if record.get("margin") is not None:
                margins.append(record["margin"])
    total = max(len(records), 1)
    mix = load_mix(target_mix) if target_mix else {}
    tasks = [{"category": c, "count": len(v), "percent": round(100 * len(v) / total, 1),
              "mean_length": round(float(np.mean(v)), 1),
              "target_percent": round(100 * mix[c], 1) if c in mix else (0.0 if mix else None)}
             for c, v in sorted(categories.items(), key=lambda kv: -len(kv[1]))]
    tasks += [{"category": c, "count": 0, "percent": 0.0, "mean_length": None, "target_percent": round(100 * s, 1)}
              for c, s in mix.items() if c not in categories]
    return {
        "records": len(records),
        "lengths": [{"source": s, "split": sp, "part": part, **describe(values)}
                    for (s, sp), group in groups.items() for part, values in group.items()],
        "tasks": tasks,
        "target_mix": target_mix if isinstance(target_mix, str) else None,
        "turns": describe(turns),
        "margins": describe(margins) if margins else None,
        "chosen_minus_rejected_length": describe(length_diffs) if length_diffs else None,
        "_raw": {"total_by_source": {f"{s}/{sp}": g["total"] for (s, sp), g in groups.items()}},
    }


def stats_tables(stats: dict) -> list[dict]:
    """The stats as report tables: lengths (whole examples), task distribution, turns, margins."""
    tables = [{"title": "Length distribution (tokens)", "columns": ["source", "split", "part"] + LENGTH_COLUMNS,
               "rows": [[r["source"], r["split"], r["part"]] + [r[c] for c in LENGTH_COLUMNS]
                        for r in stats["lengths"]]},
              {"title": "Task distribution" + (f" vs {stats['target_mix']}" if stats.get("target_mix") else ""),
               "columns": ["category", "count", "%", "target %", "mean length"],
               "rows": [[t["category"], t["count"], t["percent"], t["target_percent"], t["mean_length"]]
                        for t in stats["tasks"]]},
              {"title": "User turns per dialog", "columns": LENGTH_COLUMNS,
               "rows": [[stats["turns"][c] for c in LENGTH_COLUMNS]]}]
    if stats.get("margins"):
        tables.append({"title": "Preference margins", "columns": LENGTH_COLUMNS,
                       "rows": [[stats["margins"][c] for c in LENGTH_COLUMNS]]})
    if stats.get("chosen_minus_rejected_length"):
        tables.append({"title": "Chosen minus rejected length (tokens)", "columns": LENGTH_COLUMNS,
                       "rows": [[stats["chosen_minus_rejected_length"][c] for c in LENGTH_COLUMNS]]})
    return tables


def _markdown(tables: list[dict]) -> str:
    out = []
    for table in tables:
        out += [f"### {table['title']}", "", "| " + " | ".join(map(str, table["columns"])) + " |",
                "|" + "---|" * len(table["columns"])]
        out += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in table["rows"]]
        out.append("")
    return "\n".join(out)


def _plots(stats: dict, output_dir: Path, label: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for source, values in stats["_raw"]["total_by_source"].items():
        ax.hist(values, bins=min(30, max(5, len(values) // 4)), alpha=0.6, label=source)
    ax.set_xlabel("tokens per example")
    ax.set_ylabel("examples")
    ax.set_title(f"{label}: length distribution by source")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(output_dir / "length_histogram.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    tasks = stats["tasks"]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    x = np.arange(len(tasks))
    ax.bar(x - 0.2, [t["percent"] for t in tasks], width=0.4, label="data")
    if stats.get("target_mix"):
        ax.bar(x + 0.2, [t["target_percent"] or 0 for t in tasks], width=0.4, label=f"target: {stats['target_mix']}")
    ax.set_xticks(x, [t["category"] for t in tasks], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("% of examples")
    ax.set_title(f"{label}: task distribution")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(output_dir / "task_distribution.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def write_stats(stats: dict, output_dir: str | Path, label: str = "data") -> list[Path]:
    """stats.json, stats.md, one CSV per table and the PNG plots (titled with `label`); returns the paths."""
    import csv

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tables = stats_tables(stats)
    paths = [output_dir / "stats.json", output_dir / "stats.md"]
    paths[0].write_text(json.dumps({k: v for k, v in stats.items() if k != "_raw"}, indent=1))
    paths[1].write_text(_markdown(tables))
    for table in tables:
        path = output_dir / (table["title"].split(" (")[0].split(" vs ")[0].lower().replace(" ", "_") + ".csv")
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(table["columns"])
            writer.writerows(table["rows"])
        paths.append(path)
    return paths + _plots(stats, output_dir, label)
