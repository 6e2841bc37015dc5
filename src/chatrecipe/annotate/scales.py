"""The two rating scales people use to compare responses, and how a rating becomes a choice and a margin.

Both scales are stored as one number from 1 to 8 in the prompts file's A/B terms (1: A much better, 8: B much
better), whatever order the annotator saw: Anthropic's 8-point scale is that number; LLaMA-2's four levels
("significantly better", "better", "slightly better", "negligibly better / unsure") plus the choice map onto it.
The margin is the LLaMA-2 reward model's: 3, 2, 1, 0 from the strongest preference to the weakest.
"""

from __future__ import annotations

ANTHROPIC_8 = {
    1: "A is much better", 2: "A is better", 3: "A is slightly better", 4: "A is marginally better",
    5: "B is marginally better", 6: "B is slightly better", 7: "B is better", 8: "B is much better",
}
LLAMA2_LEVELS = ("significantly better", "better", "slightly better", "negligibly better / unsure")
SCALES = ("anthropic-8", "llama2-4")


class RatingError(ValueError):
    """A submitted rating that does not fit the project's scale."""


def displayed_rating(scale: str, form: dict) -> int:
    """The 1-8 rating in displayed terms (A = left) from a submitted form; raises RatingError when incomplete."""
    if scale == "anthropic-8":
        try:
            rating = int(form.get("rating", ""))
        except ValueError:
            raise RatingError("choose a rating from 1 (A is much better) to 8 (B is much better)") from None
        if rating not in ANTHROPIC_8:
            raise RatingError("the rating must be between 1 and 8")
        return rating
    if scale == "llama2-4":
        choice, level = form.get("choice"), form.get("level")
        if choice not in ("A", "B"):
            raise RatingError("choose the better response: A or B")
        if level not in LLAMA2_LEVELS:
            raise RatingError("say by how much: " + ", ".join(LLAMA2_LEVELS))
        strength = LLAMA2_LEVELS.index(level)  # 0 = significantly
        return 1 + strength if choice == "A" else 8 - strength
    raise RatingError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")


def to_file_terms(rating: int, swapped: bool) -> int:
    """A displayed rating (A = left) in the file's terms; when B was shown on the left the scale flips."""
    return 9 - rating if swapped else rating


def choice_of(rating: int) -> str:
    """"a" or "b": the response the rating prefers (there is no tie on either scale)."""
    return "a" if rating <= 4 else "b"


def margin_of(rating: int) -> int:
    """How strongly the chosen response wins: 3 (much better) down to 0 (marginal / unsure)."""
    return int(abs(rating - 4.5))


def rating_label(scale: str, rating: int) -> str | int:
    """The rating as recorded in exports: the 1-8 number (Anthropic) or the level word (LLaMA-2), A/B-relative."""
    if scale == "llama2-4":
        return LLAMA2_LEVELS[3 - margin_of(rating)]
    return rating
