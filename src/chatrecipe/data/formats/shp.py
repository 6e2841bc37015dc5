"""Stanford SHP rows: `history`, `human_ref_A`, `human_ref_B`, `labels` (1: A preferred), `score_ratio`."""

import math

from chatrecipe.data.schema import RecordError, validate_preference

NAME = "shp"
KIND = "preference"


def fits(row: dict) -> str | None:
    return None if {"history", "human_ref_A", "human_ref_B", "labels"} <= set(row) else \
        "no `history`, `human_ref_A/B`, `labels` fields"


def convert(row: dict) -> list[dict]:
    if row["labels"] not in (0, 1):
        raise RecordError("labels", f"must be 0 or 1, got {row['labels']!r}")
    a, b = row["human_ref_A"], row["human_ref_B"]
    chosen, rejected = (a, b) if row["labels"] == 1 else (b, a)
    ratio = row.get("score_ratio")
    margin = math.log(ratio) if isinstance(ratio, (int, float)) and ratio > 0 else None
    return [validate_preference({"prompt": row["history"], "chosen": chosen, "rejected": rejected,
                                 "margin": margin if margin is None or margin >= 0 else None,
                                 "rating": ratio, "scale": "score", "source": row.get("domain", "shp"),
                                 **({"id": row["post_id"]} if row.get("post_id") else {})})]
