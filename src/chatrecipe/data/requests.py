"""Read what people classify before they have answers: prompts, conversations, preference pairs, MT-Bench questions.

`chatrecipe data classify` labels requests, and a request does not need a reply: a prompt set for RL or for
generation is a conversation that ends with the user's turn (`messages`), or a TRL prompt-only row (`prompt`
as text or messages), and an MT-Bench question file has `question_id` and `turns`. These validate here with the
rules of chatrecipe.data.schema except the one that only training needs (a demonstration ends with the
assistant); any other public format goes through chatrecipe.data.convert. Nothing is dropped silently: a row
that fails carries file, line, field and reason, like every reader's rejections.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path

from chatrecipe.data.convert import SNIFF_ROWS, ConvertResult, convert
from chatrecipe.data.records import iter_rows, rejection
from chatrecipe.data.schema import (RecordError, category_of, record_id, strict_json, validate_conversation,
                                    validate_messages, validate_preference, validate_question)



def request_kind(row: dict) -> str | None:
    """conversation, prompt, preference or question for the rows read here; None for other formats."""
    if "prompt" in row and "chosen" in row and "rejected" in row:
        return "preference"
    if "messages" in row:
        return "conversation"
    if "question_id" in row and "turns" in row and "model" not in row:
        return "question"
    if "prompt" in row and not ({"instruction", "completion", "response", "output"} & set(row)):
        return "prompt"
    return None


@strict_json
def validate_prompt(record: dict) -> dict:
    """A request without its answer: messages (or a prompt) with a user turn, ending with any role.

    A conversation that ends with the assistant is validated as the SFT record it is.
    """
    field = "messages" if "messages" in record else "prompt"
    value = record.get(field)
    if field == "messages" and isinstance(value, list) and value and isinstance(value[-1], dict) \
            and value[-1].get("role") == "assistant":
        return validate_conversation(record)
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    messages = validate_messages(value, field)
    if not any(m["role"] == "user" for m in messages):
        raise RecordError(field, "has no user turn; a request to classify is what a user asked")
    return {**record, "id": str(record.get("id") or record_id(messages)), field: messages,
            "category": category_of(record),
            "source": record.get("source")}


VALIDATE = {"conversation": validate_prompt, "prompt": validate_prompt, "preference": validate_preference,
            "question": validate_question}


def _sniff(rows) -> tuple[list, bool]:
    """The first rows read (up to SNIFF_ROWS with data), and whether most are records this module reads itself
    (else convert's formats take the file)."""
    buffered, sample = [], []
    for row in rows:
        buffered.append(row)
        if row.data is not None:
            sample.append(request_kind(row.data) is not None)
        if len(sample) >= SNIFF_ROWS:
            break
    return buffered, bool(sample) and sum(sample) > len(sample) / 2


def load_requests(paths, fmt: str | None = None) -> ConvertResult:
    """Records to classify from files: native rows with the lenient rules above, other formats via `convert`.

    Args:
        paths: One path or several.
        fmt: Force one of convert's formats (then every file goes through `convert`).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    result = ConvertResult()
    kinds = set()
    for path in map(Path, paths):
        rows = iter_rows(path)  # read once: a JSON array or a Hub dataset loads whole
        buffered, native = ([], False) if fmt else _sniff(rows)
        rows = chain(buffered, rows)
        if not native:
            converted = convert([path], fmt, rows=rows)
            result.records += converted.records
            result.rejected += converted.rejected
            result.format = converted.format
            kinds |= {converted.kind} if converted.kind else set()
            continue
        result.format = "messages"
        for row in rows:
            if row.error:
                result.rejected.append(rejection(row, row.error))
                continue
            kind = request_kind(row.data)
            if kind is None:
                result.rejected.append(rejection(row, "not a request: needs `messages`, `prompt` (with or "
                                                      "without chosen/rejected) or `question_id` and `turns`"))
                continue
            try:
                result.records.append(VALIDATE[kind](row.data))
                kinds.add(kind)
            except RecordError as exc:
                result.rejected.append(rejection(row, exc.reason, exc.field))
    result.kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
    return result
