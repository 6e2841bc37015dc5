"""Filters that drop examples a model should not learn from; each has a switch, and every removal has a reason.

Run as: `chatrecipe data filter train.jsonl -o kept.jsonl --max-tokens 2048 [--no-refusals] [--pair-refusals both]`.

What a refusal means depends on the record. In an SFT demonstration a boilerplate refusal teaches the model to
refuse, so demonstrations lose them by default (`refusals=False` keeps them). In a preference pair a refused
*chosen* reply is exactly what a harmlessness set teaches, so a pair is never judged by its chosen reply alone:
`pair_refusals="both"` drops pairs whose two replies both refuse (no contrast to learn from), and
`"rejected"` also drops pairs whose rejected reply refuses (for helpfulness-only sets where refusals are easy
losers); the default `"off"` keeps every pair. Placeholders are checked in every reply, and a pair's length is
that of its longer side, since DPO and reward training feed both.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from chatrecipe.data.text import completion_text, reply_text

PLACEHOLDERS = {"", "n/a", "na", "none", "null", "todo", "tbd", "...", "lorem ipsum", "<answer>", "[answer]"}
PAIR_REFUSAL_MODES = ("off", "both", "rejected")
# A boilerplate refusal opens by declining, not merely with "sorry": "I apologise, but I will be late" is a
# legitimate rewrite, "I'm sorry, but I can't help with that" is not. Hard refusals ("I'm sorry, but I can't")
# and the soft ones small chat models write ("I'm sorry for any confusion, but as a chatbot I don't have the
# capability to ..."), at the start of an answer only, so a polite rewrite that opens with an apology is kept.
REFUSALS = re.compile(r"^\s*((i'?m sorry|i am sorry|sorry|i apologi[sz]e)[^.!?\n]*\b(can'?t|cannot|unable|not able|"
                      r"won'?t)\b|(i'?m sorry|i am sorry|sorry|i apologi[sz]e)[^\n]{0,80}?\bbut\b[^.!?\n]{0,40}?"
                      r"\bas an? (ai|chatbot|language model|assistant)\b|as an ai( language model)?\b|"
                      r"i (cannot|can'?t|am unable|'m unable|am not able)\b|i don'?t have the (ability|capabilit)|"
                      r"i'?m not (able|equipped|designed|programmed) to\b)", re.I)
REFUSAL_MAX_CHARS = 400  # a long answer that opens with "I can't ..." usually goes on to help
_LATIN = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def is_refusal(text: str) -> bool:
    """A short answer that opens by declining (the boilerplate a model should not learn as a demonstration)."""
    return bool(REFUSALS.match(text)) and len(text.strip()) < REFUSAL_MAX_CHARS


def token_count(record: dict, tokenizer) -> int:
    """Tokens of the whole example as the model sees it (its chat template); a pair counts its longer side."""
    if "messages" in record:
        sides = [record["messages"]]
    else:
        sides = [record.get("prompt", []) + record.get(side, []) for side in ("chosen", "rejected") if side in record]
    if getattr(tokenizer, "chat_template", None):
        return max(len(tokenizer.apply_chat_template(m, tokenize=True, return_dict=True)["input_ids"]) for m in sides)
    return max(len(tokenizer("\n".join(x["content"] for x in m))["input_ids"]) for m in sides)


def check(record: dict, *, tokenizer=None, max_tokens: int | None = None, min_chars: int = 1,
          placeholders: bool = True, refusals: bool = True, pair_refusals: str = "off",
          latin_only: bool = False) -> tuple[str, str] | None:
    """(filter name, reason) for the first filter that drops this record, or None to keep it.

    Filter names (the keys of FilterResult.by_filter): placeholder, refusal, pair_refusal, non_latin, too_long.
    """
    if pair_refusals not in PAIR_REFUSAL_MODES:
        raise ValueError(f"unknown pair_refusals {pair_refusals!r}; use one of {', '.join(PAIR_REFUSAL_MODES)}")
    is_pair = "chosen" in record and "rejected" in record
    replies = {side: reply_text(record[side]).strip() for side in ("chosen", "rejected")} if is_pair else \
        {"answer": completion_text(record).strip()}
    if placeholders:
        for side, text in replies.items():
            if text.lower() in PLACEHOLDERS or len(text) < min_chars:
                return "placeholder", f"empty or placeholder {side} {text[:30]!r}"
    if is_pair and pair_refusals != "off":
        refused = {side for side, text in replies.items() if is_refusal(text)}
        if refused == {"chosen", "rejected"}:
            return "pair_refusal", "both replies are boilerplate refusals"
        if pair_refusals == "rejected" and "rejected" in refused:
            return "pair_refusal", "the rejected reply is a boilerplate refusal"
    if not is_pair and refusals and is_refusal(replies["answer"]):
        return "refusal", "boilerplate refusal"
    if latin_only:
        for side, text in replies.items():
            letters = _LETTER.findall(text)
            if letters and sum(bool(_LATIN.match(c)) for c in letters) / len(letters) < 0.8:
                return "non_latin", f"{side} not in a Latin-script language"
    if max_tokens and tokenizer is not None:
        count = token_count(record, tokenizer)
        if count > max_tokens:
            return "too_long", f"{count} tokens > max_tokens {max_tokens}"
    return None


def reason_to_drop(record: dict, **options) -> str | None:
    """Why this record should go (the reason of `check`), or None to keep it."""
    found = check(record, **options)
    return found[1] if found else None


@dataclass
class FilterResult:
    """Kept records, rejected entries (record, reason, filter) and how many each filter removed."""

    kept: list[dict]
    rejected: list[dict]
    by_filter: dict[str, int]

    def summary(self) -> str:
        removed = ", ".join(f"{name} {n}" for name, n in sorted(self.by_filter.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"kept {len(self.kept)}, removed {len(self.rejected)}" + (f" ({removed})" if removed else "")


def filter_records(records: list[dict], **options) -> FilterResult:
    """Apply `check` (same options) to every record; a rejected entry names the filter and the reason."""
    kept, rejected, by_filter = [], [], Counter()
    for record in records:
        found = check(record, **options)
        if found:
            by_filter[found[0]] += 1
            rejected.append({"file": None, "line": None, "field": None, "reason": found[1], "filter": found[0],
                             "record": record})
        else:
            kept.append(record)
    return FilterResult(kept, rejected, dict(by_filter))
