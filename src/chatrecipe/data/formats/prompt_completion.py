"""TRL's prompt-completion rows: `prompt` and `completion`, each a string or a list of messages (conversational);
an SFT demonstration, the completion being what the model learns to say."""

from chatrecipe.data.schema import RecordError, validate_conversation

NAME = "prompt-completion"
KIND = "conversation"
SIGNATURE = "`prompt` and `completion` fields (TRL's prompt-completion rows)"


def fits(row: dict) -> str | None:
    return None if "prompt" in row and "completion" in row and "label" not in row else \
        "no `prompt` and `completion` fields"


def as_messages(value, role: str, field: str) -> list:
    """A TRL prompt or completion as messages: a string becomes one `role` message, a list is taken as is."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list):
        return value
    raise RecordError(field, f"must be text or a list of messages, got {type(value).__name__}")


def convert(row: dict) -> list[dict]:
    messages = as_messages(row["prompt"], "user", "prompt") + as_messages(row["completion"], "assistant", "completion")
    return [validate_conversation({"messages": messages, "source": row.get("source") or "trl",
                                   **({"id": str(row["id"])} if row.get("id") else {})})]
