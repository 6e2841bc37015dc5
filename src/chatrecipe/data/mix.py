"""Resample records to a target task mix and size, with a seed, and say per category what was asked, available
and taken.

Run as: `chatrecipe data mix train.jsonl --target h4-preferences --size 1000 -o mixed.jsonl [--allow-short |
--upsample]`.

A category with fewer records than its share is taken whole and the result is short; that is only acceptable
when the caller says so (`allow_short`), because a "1000-record" mix of 900 records skews every ablation built
on it. `upsample` repeats records of a short category instead (each record once before any twice; a copy gets
`<id>#copy<k>` and `metadata.upsampled_from`), which meets the size at the price of memorisation: repeated
demonstrations teach the examples rather than the task, so it is never the default. Records whose category
the target does not name are left out, and the result says how many of which (`dropped`); records without a
category ("other" that no classifier gave) are counted and reported too (`unlabelled`: classify them first, see
chatrecipe.data.classify.classify_missing).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

from chatrecipe.data.classify import is_unlabelled


@dataclass
class MixResult:
    """The sampled records and the per-category account; `met` is False when fewer records than `size` came out."""

    records: list[dict]
    table: list[dict]
    size: int
    allow_short: bool = False
    upsample: bool = False
    dropped: dict[str, int] = field(default_factory=dict)
    unlabelled: int = 0

    @property
    def taken(self) -> int:
        return len(self.records)

    @property
    def met(self) -> bool:
        return self.taken >= self.size

    @property
    def ok(self) -> bool:
        """Whether a command may exit 0: the size was met, or the caller accepted a short mix."""
        return self.met or self.allow_short

    def messages(self) -> list[str]:
        """What a person must know about this mix, one sentence each (empty when everything was as asked)."""
        out = []
        short = [r for r in self.table if r["asked"] and r["taken"] < r["asked"]]
        for row in short:
            out.append(f"{row['category']}: asked {row['asked']}, only {row['available']} available, "
                       f"took {row['taken']}")
        copied = [r for r in self.table if r["upsampled"]]
        for row in copied:
            out.append(f"{row['category']}: {row['upsampled']} of {row['taken']} records are repeats "
                       f"(upsampled from {row['available']})")
        if not self.met:
            out.append(f"the mix is short: {self.taken} of {self.size} records{self._advice()}")
        if self.dropped:
            listed = ", ".join(f"{c} ({n})" for c, n in sorted(self.dropped.items(), key=lambda kv: -kv[1]))
            out.append(f"left out {sum(self.dropped.values())} records of categories the target does not name: "
                       f"{listed}")
        if self.unlabelled:
            out.append(f"{self.unlabelled} records had no task category and were counted as 'other'; classify "
                       "them first (chatrecipe data classify) or the mix means nothing")
        return out


    def _advice(self) -> str:
        """How to get a mix that is not short; upsampling repeats records, so it cannot fill an empty category."""
        if self.allow_short:
            return ""
        if not self.upsample:
            return (" (pass allow_short / --allow-short to accept it, upsample / --upsample to repeat records, or "
                    "lower the size)")
        empty = [r["category"] for r in self.table if r["asked"] and not r["available"]]
        it = "it" if len(empty) == 1 else "them"
        return (f": upsampling cannot fill {', '.join(empty)}, which {'has' if len(empty) == 1 else 'have'} no "
                f"records (pass allow_short / --allow-short to accept it, add records of {it}, or use a target "
                f"without {it})")


def allocate(target: dict[str, float], size: int) -> dict[str, int]:
    """Records asked per category: shares of `size` rounded by largest remainder, so they add up to `size`."""
    raw = {c: share * size for c, share in target.items()}
    asked = {c: math.floor(v) for c, v in raw.items()}
    left = size - sum(asked.values())
    for category in sorted(raw, key=lambda c: (asked[c] - raw[c], c))[:max(left, 0)]:
        asked[category] += 1
    return asked


def _copy(record: dict, k: int) -> dict:
    rid = str(record.get("id"))
    meta = {**(record.get("metadata") or {}), "upsampled_from": rid}
    return {**record, "id": f"{rid}#copy{k}", "metadata": meta}


def _take(pool: list[dict], count: int, rng: random.Random, upsample: bool) -> tuple[list[dict], int]:
    """`count` records of `pool` (all of it when short, unless upsampling), and how many of them are repeats."""
    if count <= len(pool):
        return rng.sample(pool, count), 0
    if not upsample or not pool:
        return list(pool), 0
    taken = list(pool)
    copies = 0
    while len(taken) < count:  # every record once more before any record a third time
        rounds = len(taken) // len(pool)
        extra = rng.sample(pool, min(len(pool), count - len(taken)))
        taken += [_copy(r, rounds) for r in extra]
        copies += len(extra)
    return taken, copies


def mix(records: list[dict], target: dict[str, float], size: int, seed: int = 0, *, allow_short: bool = False,
        upsample: bool = False) -> MixResult:
    """Sample `size` records in the proportions of `target` (category -> share summing to 1).

    Returns:
        A MixResult: records in shuffled order, and one table row per category of the target and of the data:
        category, target_percent, asked, available, taken, upsampled, achieved_percent, in_target.
    """
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    rng = random.Random(seed)
    pools: dict[str, list] = defaultdict(list)
    unlabelled = 0
    for record in records:
        unlabelled += is_unlabelled(record)
        pools[record.get("category") or "other"].append(record)
    asked = allocate(target, size)
    chosen: list[dict] = []
    table = []
    for category, count in asked.items():
        taken, copies = _take(pools.get(category, []), count, rng, upsample)
        chosen += taken
        table.append({"category": category, "target_percent": round(100 * target[category], 1), "asked": count,
                      "available": len(pools.get(category, [])), "taken": len(taken), "upsampled": copies,
                      "in_target": True})
    dropped = {c: len(pool) for c, pool in pools.items() if c not in target}
    table += [{"category": c, "target_percent": 0.0, "asked": 0, "available": n, "taken": 0, "upsampled": 0,
               "in_target": False} for c, n in sorted(dropped.items())]
    rng.shuffle(chosen)
    for row in table:
        row["achieved_percent"] = round(100 * row["taken"] / len(chosen), 1) if chosen else 0.0
    return MixResult(chosen, table, size, allow_short, upsample, dropped, unlabelled)
