"""How figures appear in section tables: rounded numbers, values with their interval, and the provenance of a set
of judgments (judge, prompts, settings, dates), so every number in the report says where it came from."""

from __future__ import annotations

import hashlib


def rounded(x, digits: int = 3):
    return None if x is None else round(float(x), digits)


def with_interval(figure: dict, scale: float = 1.0, digits: int = 1) -> str:
    """`value [low, high]` of a figure dict, scaled (100 for percentages); n/a without a value."""
    if figure.get("value") is None:
        return "n/a"
    low, high = figure.get("ci_low"), figure.get("ci_high")
    text = f"{figure['value'] * scale:.{digits}f}"
    return text + (f" [{low * scale:.{digits}f}, {high * scale:.{digits}f}]" if low is not None else "")


def _combined_hash(hashes) -> str:
    return hashlib.sha256("".join(sorted({h for h in hashes if h})).encode()).hexdigest()[:12]


def judgment_provenance(judgments: list[dict]) -> dict:
    """Judge, prompt templates and hashes, question set hash, settings, dates and repeats of judgment records."""
    if not judgments:
        return {}
    first = judgments[0]
    return {"judge": first.get("judge"), "prompts": sorted({j.get("prompt") for j in judgments if j.get("prompt")}),
            "prompt_hashes": sorted({j.get("prompt_hash") for j in judgments if j.get("prompt_hash")}),
            "questions_hash": _combined_hash(j.get("question_hash") for j in judgments),
            "prefill": first.get("prefill"),
            "judge_settings": first.get("judge_settings"), "dates": sorted({j.get("date") for j in judgments
                                                                             if j.get("date")}),
            "repeats": max(j.get("repeat", 0) for j in judgments) + 1, "judgments": len(judgments)}


# Below this many items an interval spans tens of points: a table built on fewer says so above its numbers.
SMALL_SAMPLE = 30


def small_sample(n: int, what: str, where: str) -> str | None:
    """The warning for a figure resting on `n` < SMALL_SAMPLE items, or None."""
    if n >= SMALL_SAMPLE:
        return None
    return (f"{where}: only {n} {what}, so the interval is wide; read differences between checkpoints as "
            "suggestive, not as a result.")
