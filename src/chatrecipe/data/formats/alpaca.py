"""Alpaca / self-instruct rows: `instruction`, optional `input`, `output`."""

from chatrecipe.data.schema import RecordError, validate_conversation

NAME = "alpaca"
KIND = "conversation"
SIGNATURE = "`instruction` and `output` fields"


def fits(row: dict) -> str | None:
    return None if "instruction" in row and "output" in row else "no `instruction` and `output` fields"


def convert(row: dict) -> list[dict]:
    instruction, extra, output = row.get("instruction"), row.get("input") or "", row.get("output")
    if not isinstance(instruction, str) or not instruction.strip():
        raise RecordError("instruction", "empty or not text")
    prompt = f"{instruction.strip()}\n\n{extra.strip()}" if isinstance(extra, str) and extra.strip() else instruction
    return [validate_conversation({"messages": [{"role": "user", "content": prompt},
                                                {"role": "assistant", "content": output}],
                                   "category": row.get("category"), "source": row.get("source") or "alpaca",
                                   **({"id": row["id"]} if row.get("id") else {})})]
