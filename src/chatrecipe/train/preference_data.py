"""Preference records -> the conversational pairs TRL's DPO and reward trainers take (with margins when present)."""

from __future__ import annotations

import random
from pathlib import Path

from chatrecipe.train.outputs import load_training_records, reject_too_long


def pair_length(tokenizer, record: dict) -> int:
    """Tokens of prompt + the longer response, as the trainers will see them."""
    return max(len(tokenizer.apply_chat_template(record["prompt"] + record[side], tokenize=True,
                                                 return_dict=True)["input_ids"]) for side in ("chosen", "rejected"))


def preference_rows(files: list, tokenizer, output_dir: Path, max_length: int | None, *, with_margin: bool,
                    eval_fraction: float = 0.0, seed: int = 42) -> tuple[list[dict], list[dict], dict]:
    """(train rows, eval rows, info). Margins are passed only when every pair has one (TRL's `margin` column)."""
    records = load_training_records(files, "preference", output_dir)
    rows = [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"], "margin": r.get("margin")}
            for r in records]
    rows, kept = reject_too_long(rows, [pair_length(tokenizer, r) for r in rows], max_length, output_dir,
                                 "prompt+response")
    use_margin = with_margin and all(r["margin"] is not None for r in rows)
    for row in rows:
        if not use_margin:
            row.pop("margin")
        else:
            row["margin"] = float(row["margin"])
    rows_eval: list[dict] = []
    if eval_fraction > 0 and len(rows) >= 4:
        rng = random.Random(seed)
        shuffled = rows[:]
        rng.shuffle(shuffled)
        cut = max(1, int(len(shuffled) * eval_fraction))
        rows_eval, rows = shuffled[:cut], shuffled[cut:]
    return rows, rows_eval, {"pairs": len(rows), "eval_pairs": len(rows_eval), "margins_used": use_margin,
                             "lengths": kept}


def evaluate_on_held_out(config, rows_eval: list[dict]) -> None:
    """Evaluate on the held-out pairs at the checkpoint cadence unless the recipe chose its own schedule."""
    if rows_eval and config.eval_strategy == "no":
        config.eval_strategy = "steps"
        config.eval_steps = config.eval_steps or config.save_steps
