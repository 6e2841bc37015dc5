"""The text of a record, as the data tools see it: prompt, completion, whole example, and word n-grams."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def prompt_text(record: dict) -> str:
    """User (and system) turns of a conversation, or the prompt of a preference pair, or a question's turns."""
    if "messages" in record:
        return "\n".join(m["content"] for m in record["messages"] if m["role"] != "assistant")
    if "prompt" in record:
        prompt = record["prompt"]
        return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
    if "turns" in record:
        return "\n".join(record["turns"])
    return ""


def reply_text(messages) -> str:
    """One side of a preference pair (its messages, one or several turns) as one text."""
    return "\n".join(m["content"] for m in messages or [])


def completion_text(record: dict) -> str:
    """Assistant turns of a conversation, or the chosen response of a preference pair."""
    if "messages" in record:
        return "\n".join(m["content"] for m in record["messages"] if m["role"] == "assistant")
    if "chosen" in record:
        return reply_text(record["chosen"])
    return ""


def full_text(record: dict) -> str:
    return f"{prompt_text(record)}\n{completion_text(record)}".strip()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}
