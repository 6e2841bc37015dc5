"""UltraFeedback rows (openbmb): an `instruction` and rated `completions` (each with its `model`, `response`,
`overall_score`, `fine-grained_score` and per-aspect `annotations`: instruction_following, honesty,
truthfulness, helpfulness, each with a `Rating`).

Binarised to best vs worst (or best vs a random other) by score, the difference as margin; ties are rejected.
The fine-grained signal stays: `metadata` holds each side's model, per-aspect ratings and fine-grained score."""

import random

from chatrecipe.data.schema import RecordError, loose_number, validate_preference

NAME = "ultrafeedback"
KIND = "preference"
SIGNATURE = "an `instruction` and a `completions` list"
OPTIONS = {"mode": "best-worst (default) or best-random: which other completion the best one is paired with",
           "seed": "seed for best-random"}


def _ratings(completion: dict) -> dict:
    """Per-aspect ratings, e.g. {"honesty": 4.0, "helpfulness": 5.0}; an unrated aspect ("N/A") is None."""
    annotations = completion.get("annotations")
    if not isinstance(annotations, dict):
        return {}
    return {aspect: loose_number(value.get("Rating")) for aspect, value in annotations.items() if isinstance(value, dict)}


SCORES = ("overall_score", "score", "rating")


def _score(completion: dict, key: str | None):
    """The completion's `key` score, or with None the mean of its aspect ratings (1-5)."""
    if key is not None:
        value = completion.get(key)
        return float(value) if isinstance(value, (int, float)) and loose_number(value) is not None else None
    values = [v for v in _ratings(completion).values() if v is not None]
    return sum(values) / len(values) if values else None


def _score_key(completions: list) -> str | None:
    """The score every completion of the row has; None (the aspect mean) when none has one for all. One basis for
    the whole row: an overall score (1-10) against another completion's aspect mean (1-5) would rank scales."""
    for key in SCORES:
        if completions and all(_score(c, key) is not None for c in completions):
            return key
    return None


def fits(row: dict) -> str | None:
    return None if "instruction" in row and isinstance(row.get("completions"), list) else \
        "no `instruction` with a `completions` list"


def _side(completion: dict) -> dict:
    found = {"model": completion.get("model"), "ratings": _ratings(completion) or None,
             "fine_grained_score": loose_number(completion.get("fine-grained_score"))}
    return {k: v for k, v in found.items() if v is not None}


def convert(row: dict, mode: str = "best-worst", seed: int = 0) -> list[dict]:
    if mode not in ("best-worst", "best-random"):
        raise RecordError("mode", f"unknown mode {mode!r}; use best-worst or best-random")
    answered = [c for c in row["completions"] if isinstance(c, dict) and isinstance(c.get("response"), str)
                and c["response"].strip()]
    key = _score_key(answered)
    scored = [(c, c["response"], s) for c in answered if (s := _score(c, key)) is not None]
    if len(scored) < 2:
        raise RecordError("completions", "fewer than two rated, non-empty completions")
    scored.sort(key=lambda item: -item[2])
    best = scored[0]
    other = scored[-1] if mode == "best-worst" else random.Random(int(seed)).choice(scored[1:])
    if best[2] == other[2]:
        raise RecordError("completions", "best and chosen other have the same score (a tie teaches nothing)")
    return [validate_preference({"prompt": row["instruction"], "chosen": best[1], "rejected": other[1],
                                 "margin": best[2] - other[2], "rating": best[2], "scale": "score",
                                 "source": row.get("source") or "ultrafeedback",
                                 "metadata": {"chosen": _side(best[0]), "rejected": _side(other[0]),
                                              "score_chosen": best[2], "score_rejected": other[2]}})]
