"""Anthropic HH-RLHF rows: `chosen` and `rejected` transcripts "\n\nHuman: ...\n\nAssistant: ...".

The shared prompt is split off as TRL does (see shared_prompt): usually everything up to the last Assistant
turn, and when the two transcripts differ earlier, their longest common beginning up to a Human turn, with the
rest of each (several turns) as the completions. Identical transcripts are rejected with their reason.
"""

import re

from chatrecipe.data.formats.shared_prompt import split_shared_prompt
from chatrecipe.data.schema import RecordError, validate_preference

NAME = "hh-rlhf"
KIND = "preference"
SIGNATURE = "`chosen`/`rejected` transcripts with '\\n\\nHuman: ' turns"
_TURN = re.compile(r"\n\n(Human|Assistant): ")


def fits(row: dict) -> str | None:
    chosen = row.get("chosen")
    if isinstance(chosen, str) and "\n\nHuman: " in chosen and "prompt" not in row:
        return None
    return "no `chosen` transcript with '\\n\\nHuman: ' turns"


def parse_transcript(text: str, field: str, *, open_end: bool = False) -> list[dict]:
    """Messages of a Human/Assistant transcript; `open_end` allows (and drops) a final empty Assistant turn."""
    if not isinstance(text, str):
        raise RecordError(field, f"must be a transcript string, got {type(text).__name__}")
    if open_end:
        text = re.sub(r"\n\nAssistant:\s*$", "", text)
    parts = _TURN.split("\n\n" + text.lstrip("\n") if not text.startswith("\n\n") else text)
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    last = "user" if open_end else "assistant"
    if not messages or messages[-1]["role"] != last:
        raise RecordError(field, f"transcript does not end with a{'' if open_end else 'n'} "
                                 f"{'Human' if open_end else 'Assistant'} turn")
    return messages


def convert(row: dict) -> list[dict]:
    chosen = parse_transcript(row.get("chosen") or "", "chosen")
    rejected = parse_transcript(row.get("rejected") or "", "rejected")
    prompt, chosen_rest, rejected_rest = split_shared_prompt(chosen, rejected)
    return [validate_preference({"prompt": prompt, "chosen": chosen_rest, "rejected": rejected_rest,
                                 "source": row.get("source") or "hh-rlhf"})]
