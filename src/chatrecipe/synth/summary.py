"""What a synthesis run made: generated, kept and rejected-by-reason counts per method, usage, and the files.

`summary.json` in the synth output folder has this shape (the report reads it as is):

    {"methods": {"self_instruct" | "roleplay" | "pairs": {"generated": int, "kept": int,
                                                         "rejected": {reason: count}, ...method figures}},
     "usage": {"requests", "failed", "cached", "prompt_tokens", "completion_tokens", "cost", "priced",
               "generation_seconds", "completion_tokens_per_second", "tokens_per_second", "retries",
               "retry_after_waits", "retry_after_capped", "retry_wait_seconds", "by_model"},
     "outputs": {"synth_sft": path | null, "synth_preferences": path | null,
                 "rejected_sft": path | null, "rejected_preferences": path | null},
     "seconds": float}
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Tally:
    """Counts of one method: everything generated is either kept or rejected for a named reason."""

    generated: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] += count

    def to_dict(self) -> dict:
        return {"generated": self.generated, "kept": self.kept,
                "rejected": dict(sorted(self.rejected.items(), key=lambda kv: -kv[1]))}


def rejection(step: str, reason: str, record) -> dict:
    """A rejected-record entry in the house format (`<output>.rejected.jsonl`): where, why, and the content."""
    return {"file": step, "line": None, "field": None, "reason": reason, "record": record}


def write_summary(path: Path, summary: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=1, default=str))
    tmp.replace(path)


def print_summary(summary: dict) -> None:
    """A short table: per method generated/kept/top rejection reasons, then requests, tokens and cost."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="synthesis")
    for column in ("method", "generated", "kept", "rejected (top reasons)"):
        table.add_column(column)
    for name, counts in summary["methods"].items():
        reasons = ", ".join(f"{r}: {n}" for r, n in list(counts["rejected"].items())[:4]) or "-"
        table.add_row(name, str(counts["generated"]), str(counts["kept"]), reasons)
    console = Console(stderr=True)
    console.print(table)
    for name, counts in summary["methods"].items():
        lost = sum(counts["rejected"].values())
        if lost:  # plain lines too: a table cell wraps long reasons out of sight in a narrow log
            reasons = "; ".join(f"{r} ({n})" for r, n in list(counts["rejected"].items())[:3])
            where = summary.get("outputs", {}).get("rejected_preferences" if name == "pairs" else "rejected_sft")
            print(f"{name}: kept {counts['kept']} of {counts['generated']}; {lost} rejected, mostly: {reasons}"
                  + (f"; every one with its reason in {where}" if where else ""), file=sys.stderr)
    usage = summary["usage"]
    cost = f"${usage['cost']:.4f}" if usage["priced"] else "no price known (local or unpriced models)"
    console.print(f"{usage['requests']} requests ({usage['cached']} from cache, {usage['failed']} failed), "
                  f"{usage['prompt_tokens']:,} prompt + {usage['completion_tokens']:,} completion tokens, "
                  f"{usage['completion_tokens_per_second'] or 0} completion tokens/s, cost {cost}")
