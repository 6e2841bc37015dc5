"""Chatbot-Arena rows (lmsys/chatbot_arena_conversations): `conversation_a`, `conversation_b` (OpenAI messages),
`model_a`, `model_b`, `winner`, `judge`, `turn`, `language`, `anony`, `tstamp`.

A battle with a clear winner becomes a preference over the whole conversation: both sides share the first user
turn, and when the battle ran several turns, each side's answers from there on (user turns included) are its
completion, as TRL splits such pairs (see shared_prompt). The judge is the `annotator`; the models, turn
count, language and question id are in `metadata`. Every row also gives a battle (see `to_battle`); a tie is a
battle for ratings, not a pair, and is rejected here with that reason."""

from chatrecipe.data.formats.shared_prompt import split_shared_prompt
from chatrecipe.data.schema import BATTLE_WINNERS, RecordError, validate_battle, validate_preference

NAME = "arena"
KIND = "preference"
SIGNATURE = "`conversation_a`, `conversation_b` and `winner`"


def fits(row: dict) -> str | None:
    return None if {"conversation_a", "conversation_b", "winner"} <= set(row) else \
        "no `conversation_a`, `conversation_b`, `winner` fields"


def to_battle(row: dict) -> dict:
    return validate_battle({"model_a": row.get("model_a"), "model_b": row.get("model_b"), "winner": row["winner"],
                            "question_id": row.get("question_id"), "judge": row.get("judge")})


def convert(row: dict) -> list[dict]:
    if row["winner"] not in BATTLE_WINNERS:
        raise RecordError("winner", f"unknown winner {row['winner']!r}")
    if row["winner"] not in ("model_a", "model_b"):  # rejected with the reason, so no row vanishes silently
        raise RecordError("winner", f"{row['winner']!r}: a tie is a battle for ratings (to_battle), not a preference pair")
    a, b = row["conversation_a"], row["conversation_b"]
    if not isinstance(a, list) or not isinstance(b, list) or len(a) < 2:
        raise RecordError("conversation_a", "must be a list of messages ending with the assistant")
    won, lost = ("a", "b") if row["winner"] == "model_a" else ("b", "a")
    sides = {"a": a, "b": b}
    prompt, chosen, rejected = split_shared_prompt(sides[won], sides[lost], f"conversation_{lost}")
    metadata = {"question_id": row.get("question_id"), "model_chosen": row.get(f"model_{won}"),
                "model_rejected": row.get(f"model_{lost}"), "turn": row.get("turn"), "language": row.get("language"),
                "anony": row.get("anony"), "tstamp": row.get("tstamp")}
    return [validate_preference({"prompt": prompt, "chosen": chosen, "rejected": rejected, "source": "arena",
                                 "annotator": row.get("judge"),
                                 "metadata": {k: v for k, v in metadata.items() if v is not None}})]
