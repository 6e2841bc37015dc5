"""chatrecipe's own records, which are also OpenAI/TRL `messages` and TRL preference (`prompt/chosen/rejected`) rows."""

from chatrecipe.data.schema import detect_kind, validate_conversation, validate_preference

NAME = "messages"
KIND = "conversation|preference"
SIGNATURE = "`messages`, or `prompt`/`chosen`/`rejected` (chatrecipe, OpenAI and TRL records)"


def fits(row: dict) -> str | None:
    kind = detect_kind(row)
    return None if kind in ("conversation", "preference") else "no `messages` or `prompt/chosen/rejected` fields"


def convert(row: dict) -> list[dict]:
    if detect_kind(row) == "preference":
        return [validate_preference(row)]
    return [validate_conversation(row)]
