"""Capybara / Pure-Dove rows (LDJnr): `conversation`, a list of {input, output} turns, and the `source` dataset."""

from chatrecipe.data.schema import RecordError, validate_conversation

NAME = "capybara"
KIND = "conversation"
SIGNATURE = "a `conversation` list of {input, output} turns"


def fits(row: dict) -> str | None:
    turns = row.get("conversation")
    if isinstance(turns, list) and turns and isinstance(turns[0], dict) and "input" in turns[0]:
        return None
    return "no `conversation` list of {input, output}"


def convert(row: dict) -> list[dict]:
    messages = []
    for i, turn in enumerate(row["conversation"]):
        if not isinstance(turn, dict) or "input" not in turn or "output" not in turn:
            raise RecordError(f"conversation[{i}]", "each turn needs an `input` and an `output`")
        messages += [{"role": "user", "content": turn["input"]}, {"role": "assistant", "content": turn["output"]}]
    origin = row.get("source")
    return [validate_conversation({"messages": messages, "source": "capybara",
                                   **({"metadata": {"origin": origin}} if origin else {}),
                                   **({"id": str(row["id"])} if row.get("id") else {})})]
