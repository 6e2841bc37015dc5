"""Resample records to a target task mix and size, with a seed, and report the mix achieved.

Run as: `chatrecipe data mix train.jsonl --target h4-preferences --size 1000 -o mixed.jsonl`.

Categories with too few records are taken whole (never duplicated: repeating a demonstration teaches
memorisation, not the task), and the shortfall is reported rather than hidden.
"""

from __future__ import annotations

import random
from collections import defaultdict


def mix(records: list[dict], target: dict[str, float], size: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(sampled records, table of category / target % / wanted / available / taken / achieved %)."""
    rng = random.Random(seed)
    pools: dict[str, list] = defaultdict(list)
    for record in records:
        pools[record.get("category") or "other"].append(record)
    wanted = {c: round(share * size) for c, share in target.items()}
    chosen: list[dict] = []
    table = []
    for category, count in wanted.items():
        pool = pools.get(category, [])
        taken = rng.sample(pool, min(count, len(pool)))
        chosen += taken
        table.append({"category": category, "target_percent": round(100 * target[category], 1), "wanted": count,
                      "available": len(pool), "taken": len(taken)})
    rng.shuffle(chosen)
    for row in table:
        row["achieved_percent"] = round(100 * row["taken"] / len(chosen), 1) if chosen else 0.0
    return chosen, table
