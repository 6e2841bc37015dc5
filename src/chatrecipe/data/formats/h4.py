"""Hugging Face H4 rows (`ultrachat_200k`, `ultrafeedback_binarized`, and the many sets made the same way): a
`prompt` string, its `prompt_id`, and `messages` (an SFT conversation) or `chosen` / `rejected` (the whole
conversation on each side, prompt included) with `score_chosen` / `score_rejected`.

The shared beginning of chosen and rejected is the prompt (see shared_prompt); the score difference is the
`margin` and the chosen score the `rating`, on scale `score`; both scores are kept in `metadata`. The prompt_id
is the record's id, as in the H4 recipes. A row whose chosen is already only the assistant's answer (an
explicit prompt, as TRL writes it) is read that way."""

from chatrecipe.data.formats.shared_prompt import split_shared_prompt
from chatrecipe.data.schema import RecordError, number_or_none, validate_conversation, validate_preference

NAME = "h4"
KIND = "conversation|preference"
SIGNATURE = "a `prompt_id` with `messages` or `chosen`/`rejected` message lists (H4's ultrachat / ultrafeedback)"


def fits(row: dict) -> str | None:
    if "prompt_id" in row and (isinstance(row.get("messages"), list)
                               or isinstance(row.get("chosen"), list) and "rejected" in row):
        return None
    return "no `prompt_id` with `messages` or `chosen`/`rejected` lists"


def _score(row: dict, field: str):
    value = number_or_none(row.get(field), field)
    return None if value is None else float(value)


def pair_from_conversations(row: dict, source: str) -> dict:
    """A preference record from a row whose chosen/rejected are whole conversations (or, with `prompt`, answers)."""
    chosen, rejected = row["chosen"], row["rejected"]
    starts_with_prompt = chosen and isinstance(chosen[0], dict) and chosen[0].get("role") in ("user", "system")
    if starts_with_prompt:
        prompt, chosen, rejected = split_shared_prompt(chosen, rejected)
    else:
        prompt = row.get("prompt")
    score_chosen, score_rejected = _score(row, "score_chosen"), _score(row, "score_rejected")
    both = score_chosen is not None and score_rejected is not None
    if both and score_chosen < score_rejected:
        raise RecordError("score_rejected", f"{score_rejected} beats score_chosen {score_chosen}: the pair is "
                                            "the wrong way round")
    metadata = {"prompt_id": row.get("prompt_id"), "score_chosen": score_chosen, "score_rejected": score_rejected}
    return validate_preference({"id": row.get("prompt_id") or row.get("id"), "prompt": prompt, "chosen": chosen,
                                "rejected": rejected,
                                "margin": score_chosen - score_rejected if both else row.get("margin"),
                                "rating": score_chosen, "scale": "score" if score_chosen is not None else None,
                                "source": row.get("source") or source,
                                "metadata": {k: v for k, v in metadata.items() if v is not None} or None})


def convert(row: dict) -> list[dict]:
    if "chosen" in row and "rejected" in row:
        return [pair_from_conversations(row, "h4")]
    return [validate_conversation({"id": row.get("prompt_id"), "messages": row["messages"],
                                   "source": row.get("source") or "h4",
                                   "metadata": {"prompt_id": row.get("prompt_id")}})]
