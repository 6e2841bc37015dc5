"""UltraFeedback-style rows: an `instruction` and rated `completions`; binarised to best vs worst (or best vs a
random other) with the score difference as margin; ties are dropped."""

import random

from chatrecipe.data.schema import RecordError, validate_preference

NAME = "ultrafeedback"
KIND = "preference"


def _score(completion: dict):
    for key in ("overall_score", "score", "rating"):
        if isinstance(completion.get(key), (int, float)):
            return float(completion[key])
    ratings = completion.get("annotations") or {}
    values = [float(v.get("Rating")) for v in ratings.values() if isinstance(v, dict)
              and str(v.get("Rating", "")).replace(".", "", 1).isdigit()]
    return sum(values) / len(values) if values else None


def fits(row: dict) -> str | None:
    return None if "instruction" in row and isinstance(row.get("completions"), list) else \
        "no `instruction` with a `completions` list"


def convert(row: dict, mode: str = "best-worst", seed: int = 0) -> list[dict]:
    scored = [(c.get("response"), _score(c)) for c in row["completions"] if isinstance(c, dict)]
    scored = [(text, s) for text, s in scored if isinstance(text, str) and text.strip() and s is not None]
    if len(scored) < 2:
        raise RecordError("completions", "fewer than two rated, non-empty completions")
    scored.sort(key=lambda item: -item[1])
    best = scored[0]
    other = scored[-1] if mode == "best-worst" else random.Random(seed).choice(scored[1:])
    if best[1] == other[1]:
        raise RecordError("completions", "best and chosen other have the same score (a tie teaches nothing)")
    return [validate_preference({"prompt": row["instruction"], "chosen": best[0], "rejected": other[0],
                                 "margin": best[1] - other[1], "rating": best[1], "scale": "score",
                                 "source": row.get("source", "ultrafeedback")})]
