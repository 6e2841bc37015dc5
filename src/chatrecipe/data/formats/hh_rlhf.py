"""Anthropic HH-RLHF rows: `chosen` and `rejected` transcripts "\n\nHuman: ...\n\nAssistant: ..."; the shared prompt
(everything up to the last Assistant turn) is split off."""

import re

from chatrecipe.data.schema import RecordError, validate_preference

NAME = "hh-rlhf"
KIND = "preference"
_TURN = re.compile(r"\n\n(Human|Assistant): ")


def fits(row: dict) -> str | None:
    chosen = row.get("chosen")
    if isinstance(chosen, str) and "\n\nHuman: " in chosen and "prompt" not in row:
        return None
    return "no `chosen` transcript with '\\n\\nHuman: ' turns"


def parse_transcript(text: str, field: str) -> list[dict]:
    parts = _TURN.split("\n\n" + text.lstrip("\n") if not text.startswith("\n\n") else text)
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    if not messages or messages[-1]["role"] != "assistant":
        raise RecordError(field, "transcript does not end with an Assistant turn")
    return messages


def convert(row: dict) -> list[dict]:
    chosen = parse_transcript(row.get("chosen") or "", "chosen")
    rejected = parse_transcript(row.get("rejected") or "", "rejected")
    prompt = chosen[:-1]
    if rejected[:-1] != prompt:
        raise RecordError("rejected", "its conversation before the last reply differs from chosen's")
    return [validate_preference({"prompt": prompt, "chosen": [chosen[-1]], "rejected": [rejected[-1]],
                                 "source": row.get("source", "hh-rlhf")})]
