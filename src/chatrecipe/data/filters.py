"""Filters that drop examples a model should not learn from, each with the reason it was dropped.

Run as: `chatrecipe data filter train.jsonl -o kept.jsonl --max-tokens 2048`.
"""

from __future__ import annotations

import re

from chatrecipe.data.text import completion_text

PLACEHOLDERS = {"", "n/a", "na", "none", "null", "todo", "tbd", "...", "lorem ipsum", "<answer>", "[answer]"}
# a boilerplate refusal opens by declining, not merely with "sorry": "I apologise, but I will be late" is a
# legitimate rewrite, "I'm sorry, but I can't help with that" is not
# Hard refusals ("I'm sorry, but I can't") and the soft ones small chat models write ("I'm sorry for any
# confusion, but as a chatbot I don't have the capability to ..."), at the start of an answer only, so a polite
# rewrite that merely opens with an apology is kept.
REFUSALS = re.compile(r"^\s*((i'?m sorry|i am sorry|sorry|i apologi[sz]e)[^.!?\n]*\b(can'?t|cannot|unable|not able|"
                      r"won'?t)\b|(i'?m sorry|i am sorry|sorry|i apologi[sz]e)[^\n]{0,80}?\bbut\b[^.!?\n]{0,40}?"
                      r"\bas an? (ai|chatbot|language model|assistant)\b|as an ai( language model)?\b|"
                      r"i (cannot|can'?t|am unable|'m unable|am not able)\b|i don'?t have the (ability|capabilit)|"
                      r"i'?m not (able|equipped|designed|programmed) to\b)", re.I)
_LATIN = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def token_count(record: dict, tokenizer) -> int:
    """Tokens of the whole example as the model sees it (its chat template), or of the text without one."""
    messages = record.get("messages") or (record.get("prompt", []) + record.get("chosen", []))
    if getattr(tokenizer, "chat_template", None):
        return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])
    return len(tokenizer("\n".join(m["content"] for m in messages))["input_ids"])


def reason_to_drop(record: dict, *, tokenizer=None, max_tokens: int | None = None, min_chars: int = 1,
                   refusals: bool = True, latin_only: bool = False) -> str | None:
    """Why this record should go, or None to keep it."""
    answer = completion_text(record).strip()
    if answer.lower() in PLACEHOLDERS or len(answer) < min_chars:
        return f"empty or placeholder answer {answer[:30]!r}"
    if refusals and REFUSALS.match(answer) and len(answer) < 400:
        return "boilerplate refusal"
    if latin_only:
        letters = _LETTER.findall(answer)
        if letters and sum(bool(_LATIN.match(c)) for c in letters) / len(letters) < 0.8:
            return "answer not in a Latin-script language"
    if max_tokens and tokenizer is not None:
        count = token_count(record, tokenizer)
        if count > max_tokens:
            return f"{count} tokens > max_tokens {max_tokens}"
    return None


def filter_records(records: list[dict], **options) -> tuple[list[dict], list[dict]]:
    """(kept, rejected) where rejected entries carry the record and the reason."""
    kept, rejected = [], []
    for record in records:
        reason = reason_to_drop(record, **options)
        if reason:
            rejected.append({"file": None, "line": None, "field": None, "reason": reason, "record": record})
        else:
            kept.append(record)
    return kept, rejected
