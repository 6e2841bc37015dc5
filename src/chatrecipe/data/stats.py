"""The recipe's data tables: length distribution per source and split, task distribution against a target mix,
turns per dialog, and for preference data the margins and the chosen-vs-rejected length difference.

Run as: `chatrecipe data stats train.jsonl --tokenizer smollm2-135m-instruct --target instructgpt -o stats/`.

Lengths are in tokens of the given tokenizer (the recipe's tables count tokens: "total length < 2048"), of
prompts, completions and whole examples. Everything is computed from one small frame of numbers per record
(`length_frame`), filled chunk by chunk with batched tokenization, so 100,000 conversations take seconds and
the text never has to sit in memory all at once. Outputs: terminal tables, Markdown, CSV, JSON and PNG plots
(`chatrecipe.data.plots`) that the report embeds.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from chatrecipe.data.classify import is_unlabelled
from chatrecipe.data.mixes import load_mix, mix_name
from chatrecipe.data.text import completion_text, prompt_text, reply_text

LENGTH_COLUMNS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
PARTS = ("prompt", "completion", "total")
CHUNK = 4096
SMALL_SAMPLE = 30  # below this a task table's percentages say little (one record is over 3 points)


def as_tokenizer(tokenizer):
    """A callable tokenizer from an object, a local folder, or None / "words" (whitespace words).

    `data` is the ground floor and does not know chatrecipe's model names; callers resolve those (the CLI
    does it through `chatrecipe.models`) and hand over the tokenizer object or its folder.
    """
    if tokenizer is None or tokenizer == "words":
        return None
    if isinstance(tokenizer, (str, Path)):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(tokenizer))
    return tokenizer


def token_counts(texts: list[str], tokenizer) -> list[int]:
    """Tokens per text, in one batched call (a fast tokenizer spreads the batch over its Rust threads)."""
    if tokenizer is None or not texts:
        return [len(t.split()) for t in texts]
    encoded = tokenizer(texts, add_special_tokens=False, return_attention_mask=False)["input_ids"]
    return [len(ids) for ids in encoded]


def _user_turns(record: dict) -> int:
    messages = record.get("messages") or record.get("prompt") or []
    if isinstance(messages, str):
        return 1
    return sum(1 for m in messages if m.get("role") == "user") or (len(record.get("turns") or []))


def length_frame(records: Iterable[dict], tokenizer=None, *, progress: bool = False) -> pd.DataFrame:
    """One row of numbers per record: source, split, category, kind, turns, prompt/completion/total tokens,
    and for preference pairs the rejected length and the margin. Every table is a group-by of this frame."""
    tokenizer = as_tokenizer(tokenizer)
    columns: dict[str, list] = {k: [] for k in ("source", "split", "category", "labelled", "kind", "turns",
                                                "prompt", "completion", "total", "rejected", "margin")}
    iterator = iter(records)
    bar = _progress(progress)
    task = bar.add_task("stats", total=len(records) if hasattr(records, "__len__") else None) if bar else None
    while chunk := list(islice(iterator, CHUNK)):
        prompts = token_counts([prompt_text(r) for r in chunk], tokenizer)
        completions = token_counts([completion_text(r) for r in chunk], tokenizer)
        pairs = [i for i, r in enumerate(chunk) if "rejected" in r]
        rejected = dict(zip(pairs, token_counts([reply_text(chunk[i].get("rejected")) for i in pairs], tokenizer)))
        for i, record in enumerate(chunk):
            columns["source"].append(record.get("source") or "-")
            columns["split"].append(record.get("split") or "-")
            columns["category"].append(record.get("category") or "other")
            columns["labelled"].append(not is_unlabelled(record))
            columns["kind"].append("preference" if "rejected" in record else "conversation")
            columns["turns"].append(_user_turns(record))
            columns["prompt"].append(prompts[i])
            columns["completion"].append(completions[i])
            columns["total"].append(prompts[i] + completions[i])
            columns["rejected"].append(rejected.get(i))
            margin = record.get("margin")
            columns["margin"].append(float(margin) if isinstance(margin, (int, float)) else None)
        if bar:
            bar.update(task, advance=len(chunk))
    if bar:
        bar.stop()
    frame = pd.DataFrame(columns)
    for name in ("rejected", "margin"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from rich.console import Console

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   transient=True, console=Console(stderr=True))
    bar.start()
    return bar


def describe(values) -> dict:
    """count, mean, std, min, quartiles, max: the columns of the recipe's length tables."""
    array = np.asarray(pd.Series(values, dtype=float).dropna(), dtype=float)
    if not len(array):
        return {c: 0 for c in LENGTH_COLUMNS}
    q = np.percentile(array, [25, 50, 75])
    return {"count": int(len(array)), "mean": round(float(array.mean()), 1),
            "std": round(float(array.std(ddof=1)) if len(array) > 1 else 0.0, 1), "min": _num(array.min()),
            "25%": round(float(q[0]), 1), "50%": round(float(q[1]), 1), "75%": round(float(q[2]), 1),
            "max": _num(array.max())}


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _frame(records_or_frame, tokenizer) -> pd.DataFrame:
    if isinstance(records_or_frame, pd.DataFrame):
        return records_or_frame
    return length_frame(records_or_frame, tokenizer)


def length_table(records, tokenizer=None, *, part: str = "total", by: tuple[str, ...] = ("source", "split"),
                 parts: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The recipe's length table: count, mean, std, min, 25%, 50%, 75%, max (in tokens) per source and split.

    Args:
        records: records, or a frame from `length_frame` (so several tables share one tokenization).
        tokenizer: a tokenizer object or folder; None counts whitespace words.
        part: "prompt", "completion" (the chosen reply of a pair) or "total" (the whole example).
        by: the grouping columns; the recipe groups by source and split ("Model" and split for RM/PPO data).
        parts: several parts at once, one row per group and part (adds a `part` column).
    """
    frame = _frame(records, tokenizer)
    rows = []
    for selected in parts or (part,):
        if selected not in PARTS:
            raise ValueError(f"unknown part {selected!r}; use one of {', '.join(PARTS)}")
        for key, group in frame.groupby(list(by), sort=False) if len(frame) else []:
            key = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by, key)), **({"part": selected} if parts else {}),
                         **describe(group[selected])})
    columns = list(by) + (["part"] if parts else []) + LENGTH_COLUMNS
    return pd.DataFrame(rows, columns=columns)


def task_table(records, tokenizer=None, target_mix: str | dict | None = None) -> pd.DataFrame:
    """Task distribution: count and % per category with mean length (tokens), and the target mix's % beside it."""
    frame = _frame(records, tokenizer)
    target = load_mix(target_mix) if target_mix else {}
    total = max(len(frame), 1)
    rows = []
    if len(frame):
        for category, group in frame.groupby("category", sort=False):
            rows.append({"category": category, "count": int(len(group)),
                         "percent": round(100 * len(group) / total, 1),
                         "mean_length": round(float(group["total"].mean()), 1)})
    rows += [{"category": c, "count": 0, "percent": 0.0, "mean_length": None}
             for c in target if c not in {r["category"] for r in rows}]
    table = pd.DataFrame(rows, columns=["category", "count", "percent", "mean_length"])
    if target:
        table["target_percent"] = [round(100 * target.get(c, 0.0), 1) for c in table["category"]]
        table["difference"] = (table["percent"] - table["target_percent"]).round(1)
    return table.sort_values(["count", "category"], ascending=[False, True], ignore_index=True)


def turns_table(records, tokenizer=None) -> pd.DataFrame:
    """How many dialogs have 1, 2, 3, ... user turns (the recipe asks for multi-turn, about 4 per dialog)."""
    frame = _frame(records, tokenizer)
    counts = frame["turns"].value_counts().sort_index()
    total = max(int(counts.sum()), 1)
    return pd.DataFrame({"turns": counts.index.astype(int), "dialogs": counts.values.astype(int),
                         "percent": (100 * counts.values / total).round(1)})


def dataset_stats(records, tokenizer=None, target_mix: str | dict | None = None, *, progress: bool = False) -> dict:
    """Every table of the recipe for one set of records, as JSON-able dicts (lengths in tokens).

    Keys: records, kinds, lengths (per source/split/part), tasks (with target % when a mix is given),
    target_mix, turns (distribution summary), turns_histogram, margins and chosen_minus_rejected_length (pairs
    only, else None), chosen_longer_percent, and `_raw` (plot inputs, not written to JSON).
    """
    frame = records if isinstance(records, pd.DataFrame) else length_frame(records, tokenizer, progress=progress)
    pairs = frame[frame["kind"] == "preference"]
    diffs = (pairs["completion"] - pairs["rejected"]).dropna()
    lengths = length_table(frame, parts=PARTS)
    tasks = task_table(frame, target_mix=target_mix)
    unlabelled = int((~frame["labelled"].astype(bool)).sum()) if len(frame) else 0
    return {
        "records": int(len(frame)),
        "unlabelled": unlabelled,
        "warnings": task_warnings(unlabelled, int(len(frame))),
        "kinds": {k: int(v) for k, v in frame["kind"].value_counts().items()},
        "lengths": _rows(lengths),
        "tasks": _rows(tasks if target_mix else tasks.assign(target_percent=None)),
        "target_mix": mix_name(target_mix) if target_mix else None,
        "turns": describe(frame["turns"]),
        "turns_histogram": _rows(turns_table(frame)),
        "margins": describe(pairs["margin"]) if pairs["margin"].notna().any() else None,
        "chosen_minus_rejected_length": describe(diffs) if len(diffs) else None,
        "chosen_longer_percent": round(100 * float((diffs > 0).mean()), 1) if len(diffs) else None,
        "_raw": {"total_by_source": {f"{s}/{sp}": g["total"].tolist()
                                     for (s, sp), g in frame.groupby(["source", "split"], sort=False)},
                 "margins": pairs["margin"].dropna().tolist(), "length_diffs": diffs.tolist()},
    }


def task_warnings(unlabelled: int, records: int) -> list[str]:
    """What a reader of the task table must be told: it says little when many records were never classified.

    A converted public set has no categories and validation calls every record "other", so its task table is
    100% "other": that is a missing label, not a finding about the data.
    """
    out = []
    if 0 < records < SMALL_SAMPLE:
        out.append(f"only {records} records: one record moves a category's share by {100 / records:.0f} points, "
                   "so read the percentages as rough")
    if not unlabelled or not records:
        return out
    share = unlabelled / records
    verdict = "the task table is uninformative" if share > 0.5 else "the task table undercounts the other categories"
    return out + [f"{unlabelled} of {records} records ({100 * share:.0f}%) have no task category and count as "
                  f"'other': {verdict}. Label them with `chatrecipe data classify FILE -o OUT` (or the recipe's "
                  "data.classify: true), then rerun."]


def _rows(table: pd.DataFrame) -> list[dict]:
    """DataFrame rows as plain JSON values (numpy ints and NaN become int and None)."""
    return json.loads(table.to_json(orient="records"))


def stats_tables(stats: dict) -> list[dict]:
    """The stats as report tables ({title, columns, rows}): lengths, task distribution, turns, margins."""
    tables = [{"title": "Length distribution (tokens)", "columns": ["source", "split", "part"] + LENGTH_COLUMNS,
               "rows": [[r["source"], r["split"], r["part"]] + [r[c] for c in LENGTH_COLUMNS]
                        for r in stats["lengths"]]}]
    target = stats.get("target_mix")
    task_columns = ["category", "count", "%", "mean length"] + (["target %", "difference"] if target else [])
    tasks = {"title": "Task distribution" + (f" vs {target}" if target else ""), "columns": task_columns,
             "rows": [[t["category"], t["count"], t["percent"], t["mean_length"]]
                      + ([t["target_percent"], t.get("difference")] if target else [])
                      for t in stats["tasks"]]}
    if stats.get("warnings"):
        tasks["note"] = " ".join(stats["warnings"])
    tables.append(tasks)
    tables.append({"title": "User turns per dialog", "columns": ["turns", "dialogs", "%"],
                   "rows": [[r["turns"], r["dialogs"], r["percent"]] for r in stats.get("turns_histogram", [])]
                   + [["mean", stats["turns"]["mean"], ""]]})
    if stats.get("margins"):
        tables.append({"title": "Preference margins", "columns": LENGTH_COLUMNS,
                       "rows": [[stats["margins"][c] for c in LENGTH_COLUMNS]]})
    if stats.get("chosen_minus_rejected_length"):
        tables.append({"title": "Chosen minus rejected length (tokens)", "columns": LENGTH_COLUMNS + ["% chosen longer"],
                       "rows": [[stats["chosen_minus_rejected_length"][c] for c in LENGTH_COLUMNS]
                                + [stats.get("chosen_longer_percent")]]})
    return tables


def markdown(tables: list[dict]) -> str:
    """The tables as GitHub Markdown, one `###` heading each."""
    out = []
    for table in tables:
        out += [f"### {table['title']}", "", "| " + " | ".join(map(str, table["columns"])) + " |",
                "|" + "---|" * len(table["columns"])]
        out += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in table["rows"]]
        out += ["", f"> **Warning:** {table['note']}"] if table.get("note") else []
        out.append("")
    return "\n".join(out)


def _csv_name(title: str) -> str:
    return title.split(" (")[0].split(" vs ")[0].lower().replace(" ", "_") + ".csv"


def write_stats(stats: dict, output_dir: str | Path, label: str = "data") -> list[Path]:
    """stats.json, stats.md, one CSV per table and the PNG plots (titled with `label`); returns the paths."""
    import csv

    from chatrecipe.data.plots import stats_plots

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tables = stats_tables(stats)
    paths = [output_dir / "stats.json", output_dir / "stats.md"]
    paths[0].write_text(json.dumps({k: v for k, v in stats.items() if k != "_raw"}, indent=1))
    paths[1].write_text(markdown(tables))
    for table in tables:
        path = output_dir / _csv_name(table["title"])
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(table["columns"])
            writer.writerows(table["rows"])
        paths.append(path)
    return paths + stats_plots(stats, output_dir, label)
