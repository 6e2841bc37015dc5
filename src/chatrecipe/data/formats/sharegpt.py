"""ShareGPT rows: `conversations` of `{from: human|gpt|system, value}`."""

from chatrecipe.data.schema import RecordError, validate_conversation

NAME = "sharegpt"
KIND = "conversation"
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
         "bard": "assistant", "bing": "assistant", "system": "system"}


def fits(row: dict) -> str | None:
    turns = row.get("conversations")
    if isinstance(turns, list) and turns and isinstance(turns[0], dict) and "from" in turns[0]:
        return None
    return "no `conversations` list of {from, value}"


def convert(row: dict) -> list[dict]:
    messages = []
    for i, turn in enumerate(row["conversations"]):
        if not isinstance(turn, dict) or turn.get("from") not in ROLES:
            raise RecordError(f"conversations[{i}].from", f"unknown speaker {turn.get('from') if isinstance(turn, dict) else turn!r}")
        messages.append({"role": ROLES[turn["from"]], "content": turn.get("value")})
    while messages and messages[-1]["role"] != "assistant":  # a trailing unanswered question teaches nothing
        messages.pop()
    return [validate_conversation({"messages": messages, "source": row.get("source", "sharegpt"),
                                   **({"id": str(row["id"])} if row.get("id") else {})})]
