"""Stanford SHP rows: `history`, `human_ref_A`, `human_ref_B`, `labels` (1: A preferred), `score_ratio`.

The votes behind the label are kept: `rating` is the score ratio (scale `score`), `margin` its log, and
`metadata` holds each reply's score (`score_chosen`, `score_rejected`: net upvotes), the post's `upvote_ratio`,
the comments' ids and the seconds between them."""

import math

from chatrecipe.data.schema import RecordError, loose_number, number_or_none, validate_preference

NAME = "shp"
KIND = "preference"
SIGNATURE = "`history`, `human_ref_A/B` and `labels`"


def fits(row: dict) -> str | None:
    return None if {"history", "human_ref_A", "human_ref_B", "labels"} <= set(row) else \
        "no `history`, `human_ref_A/B`, `labels` fields"


def convert(row: dict) -> list[dict]:
    if row["labels"] not in (0, 1):
        raise RecordError("labels", f"must be 0 or 1, got {row['labels']!r}")
    first, second = ("A", "B") if row["labels"] == 1 else ("B", "A")
    ratio = number_or_none(row.get("score_ratio"), "score_ratio")  # it becomes the margin the RM trains on
    margin = math.log(ratio) if ratio is not None and ratio > 0 else None
    metadata = {"score_chosen": loose_number(row.get(f"score_{first}")),
                "score_rejected": loose_number(row.get(f"score_{second}")),
                "score_ratio": ratio, "upvote_ratio": loose_number(row.get("upvote_ratio")),
                "chosen_id": row.get(f"c_root_id_{first}"), "rejected_id": row.get(f"c_root_id_{second}"),
                "seconds_difference": loose_number(row.get("seconds_difference")), "domain": row.get("domain")}
    return [validate_preference({"prompt": row["history"], "chosen": row[f"human_ref_{first}"],
                                 "rejected": row[f"human_ref_{second}"],
                                 "margin": margin if margin is None or margin >= 0 else None,
                                 "rating": ratio, "scale": "score", "source": row.get("domain", "shp"),
                                 "metadata": {k: v for k, v in metadata.items() if v is not None},
                                 **({"id": row["post_id"]} if row.get("post_id") else {})})]
