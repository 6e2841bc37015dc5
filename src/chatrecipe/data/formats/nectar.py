"""Nectar rows (berkeley-nest, Starling's data): an HH-style `prompt` transcript ending in "Assistant:", and
`answers` from several models (usually 7), each with its `model` and `rank` (1 = best, by GPT-4).

A k-way ranking becomes all its pairs, every better-ranked answer against every worse one (as InstructGPT
trained its reward model, and as the oasst converter does), with the rank difference as `margin`; answers
ranked equal make no pair. The models and ranks of each side, the `source` sets and `good_natured` are kept in
`metadata`."""

from itertools import combinations

from chatrecipe.data.formats.hh_rlhf import parse_transcript
from chatrecipe.data.schema import RecordError, number_or_none, validate_preference

NAME = "nectar"
KIND = "preference"
SIGNATURE = "an HH-style `prompt` and ranked `answers` (Nectar)"


def fits(row: dict) -> str | None:
    answers = row.get("answers")
    if isinstance(row.get("prompt"), str) and isinstance(answers, list) and answers \
            and isinstance(answers[0], dict) and "rank" in answers[0]:
        return None
    return "no `prompt` with a list of ranked `answers`"


def _ranked(answers: list) -> list[dict]:
    ranked = []
    for i, answer in enumerate(answers):
        rank = number_or_none(answer.get("rank") if isinstance(answer, dict) else None, f"answers[{i}].rank")
        if rank is None:
            raise RecordError(f"answers[{i}].rank", "missing; every answer needs its rank")
        if not isinstance(answer.get("answer"), str) or not answer["answer"].strip():
            raise RecordError(f"answers[{i}].answer", "empty or not text")
        ranked.append(answer)
    return sorted(ranked, key=lambda a: a["rank"])


def convert(row: dict) -> list[dict]:
    prompt = parse_transcript(row["prompt"], "prompt", open_end=True)
    ranked = _ranked(row["answers"])
    records = []
    for better, worse in combinations(ranked, 2):
        if better["rank"] == worse["rank"] or better["answer"].strip() == worse["answer"].strip():
            continue  # a tie (or the same text twice) teaches no preference
        records.append(validate_preference({
            "prompt": prompt, "chosen": better["answer"].strip(), "rejected": worse["answer"].strip(),
            "margin": float(worse["rank"] - better["rank"]), "source": "nectar",
            "metadata": {"model_chosen": better.get("model"), "model_rejected": worse.get("model"),
                         "rank_chosen": better["rank"], "rank_rejected": worse["rank"],
                         "sources": row.get("source"), "good_natured": row.get("good_natured")}}))
    if not records:
        raise RecordError("answers", "no two answers are ranked differently, so there is no pair")
    return records
