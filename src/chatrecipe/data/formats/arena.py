"""Chatbot-Arena-style rows: `conversation_a`, `conversation_b` (OpenAI messages), `model_a`, `model_b`, `winner`.
Pairs with a clear winner become preference records; every row also gives a battle (see `to_battle`)."""

from chatrecipe.data.schema import BATTLE_WINNERS, RecordError, validate_battle, validate_preference

NAME = "arena"
KIND = "preference"


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
    if a[:-1] != b[:-1]:
        raise RecordError("conversation_b", "its prompt differs from conversation_a's")
    chosen, rejected = (a[-1], b[-1]) if row["winner"] == "model_a" else (b[-1], a[-1])
    return [validate_preference({"prompt": a[:-1], "chosen": [chosen], "rejected": [rejected],
                                 "source": "arena", "annotator": row.get("judge")})]
