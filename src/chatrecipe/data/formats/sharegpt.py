"""ShareGPT rows and their multi-turn variants: `conversations` (or `conversation`, `items`) of turns that say who
speaks in `from` (human, gpt, system, ...) or `role`, and the text in `value` or `content`; an optional row-level
`system` prompt (SlimOrca, OpenHermes and the Vicuna dumps all use this shape).

A trailing unanswered question teaches nothing and is dropped; a tool or function turn has no place in a chat
record, so such a row is rejected saying so; per-turn `weight`s (axolotl's train / do-not-train marks) are kept
in `metadata.weights`."""

from chatrecipe.data.schema import RecordError, validate_conversation

NAME = "sharegpt"
KIND = "conversation"
SIGNATURE = "a `conversations` list of {from, value} turns"
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
         "bard": "assistant", "bing": "assistant", "model": "assistant", "system": "system"}
_TURN_LISTS = ("conversations", "conversation", "items")


def _turns(row: dict):
    """(key, turns) of the first turn list whose first turn names its speaker, else (None, None)."""
    for key in _TURN_LISTS:
        turns = row.get(key)
        if isinstance(turns, list) and turns and isinstance(turns[0], dict):
            if "from" in turns[0] or (key == "conversations" and "role" in turns[0]):
                return key, turns
    return None, None


def fits(row: dict) -> str | None:
    return None if _turns(row)[0] else "no `conversations` list of {from, value}"


def convert(row: dict) -> list[dict]:
    key, turns = _turns(row)
    messages, weights = [], []
    if isinstance(row.get("system"), str) and row["system"].strip():
        messages.append({"role": "system", "content": row["system"]})
        weights.append(None)
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RecordError(f"{key}[{i}]", f"must be a turn object, got {type(turn).__name__}")
        # `or`, not a default: in a Parquet file every turn has both keys, the unused one null
        speaker = turn.get("from") or turn.get("role")
        if not isinstance(speaker, str) or speaker not in ROLES:
            raise RecordError(f"{key}[{i}].from", f"unknown speaker {speaker!r}; a chat record has "
                                                  "human/gpt/system turns only (tool turns cannot be kept)")
        text = turn.get("value") if turn.get("value") is not None else turn.get("content")
        messages.append({"role": ROLES[speaker], "content": text})
        weights.append(turn.get("weight"))
    while messages and messages[-1]["role"] != "assistant":  # a trailing unanswered question teaches nothing
        messages.pop()
        weights.pop()
    metadata = {"weights": weights} if any(w is not None for w in weights) else None
    return [validate_conversation({"messages": messages, "source": row.get("source") or "sharegpt",
                                   **({"metadata": metadata} if metadata else {}),
                                   **({"id": str(row["id"])} if row.get("id") else {})})]
