"""The style of both answers of each battle, counted as Chatbot Arena's `conv_metadata` counts it: assistant
tokens, markdown headers, list items and bold spans.

Three sources, tried in this order for each battle:
1. its `conv_metadata` (Arena/FastChat battle files): `sum_assistant_a_tokens`, `header_count_a`, `list_count_a`,
   `bold_count_a` and the `_b` twins; a count given as a dict ({"h1": 2, "h2": 1}) is the sum of its values;
2. its `conversation_a` / `conversation_b` (Arena files without metadata, `annotate export --kind battle`);
3. the answer files of chatrecipe's own judgments: the judged model's answer to the battle's question, its
   turns up to the judged one (what the judge saw).
Markdown is counted with the expressions of FastChat's monitor/add_markdown_info.py, fenced code removed first.
Tokens are counted with a named Hugging Face tokenizer, or by default as words and punctuation marks: the style
feature is a ratio (a - b) / (a + b + 1), so any count roughly proportional to tokens gives nearly the same
value, and Arena's own counts (tiktoken, gpt-3.5-turbo) need a download. A battle whose style cannot be read is
named in a StyleFeatureError, or listed as excluded when the caller asks to skip it; never silently dropped.
"""

from __future__ import annotations

import math
import re
from itertools import chain
from typing import Callable

import numpy as np

from chatrecipe.evaluate.battles import BattleError, collector_paused

FEATURES = ("sum_assistant_tokens", "header_count", "list_count", "bold_count")
LABELS = {"sum_assistant_tokens": "length", "header_count": "headers", "list_count": "lists",
          "bold_count": "bold"}
SHOWN = 10  # problems spelled out in an error; the rest are counted

_HEADERS = [(f"h{level}", re.compile(rf"^#{{{level}}}\s", re.MULTILINE)) for level in range(1, 7)]
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")
# FastChat deletes the text inside each ``` pair (and, by way of str.replace, that same text wherever else it
# occurs); removing the whole fenced block gives the same counts without the second effect
_CODE = re.compile(r"```[^`]*```")
_WORDS = re.compile(r"\w+|[^\w\s]")


class StyleFeatureError(BattleError):
    """Battles whose style features cannot be read or computed; the message names them and says what to do."""


def metadata_key(feature: str, side: str) -> str:
    """The conv_metadata field of `feature` for side "a" or "b" (Arena spells the token count differently)."""
    return f"sum_assistant_{side}_tokens" if feature == "sum_assistant_tokens" else f"{feature}_{side}"


METADATA_KEYS = [metadata_key(f, side) for side in ("a", "b") for f in FEATURES]
_NUMBERS = frozenset({int, float})  # exact types: a bool or a numeric string is not a count


def markdown_counts(text: str) -> dict:
    """Headers (per level), list items (ordered, unordered) and bold spans of `text`, as FastChat counts them."""
    text = _CODE.sub("", text)
    return {"header_count": {name: len(pattern.findall(text)) for name, pattern in _HEADERS},
            "list_count": {"ordered": len(_ORDERED.findall(text)), "unordered": len(_UNORDERED.findall(text))},
            "bold_count": {"**": len(_BOLD_STARS.findall(text)), "__": len(_BOLD_UNDERSCORES.findall(text))}}


def word_count(text: str) -> int:
    """The default token count: words and punctuation marks, roughly proportional to any tokenizer's count."""
    return len(_WORDS.findall(text))


def token_counter(tokenizer: str | None = None) -> Callable[[str], int]:
    """A function counting the tokens of a text: any model reference chatrecipe loads (the embedded default, a
    folder, an adapter, a .gguf, a cached hub id), or `word_count`."""
    if tokenizer is None:
        return word_count
    from chatrecipe.models import ModelLoadError, load_tokenizer

    try:
        loaded = load_tokenizer(tokenizer)
    except (ModelLoadError, OSError, ValueError) as exc:
        raise StyleFeatureError(f"tokenizer {tokenizer!r} could not be loaded ({str(exc).splitlines()[0]}); give a "
                                "model reference chatrecipe loads, or none for the default word count") from None
    return lambda text: len(loaded.encode(text, add_special_tokens=False))


def conversation_metadata(conversation_a: list[dict], conversation_b: list[dict],
                          count_tokens: Callable[[str], int] = word_count) -> dict:
    """Arena's conv_metadata for two conversations: tokens summed over assistant turns, markdown of their text."""
    meta = {}
    for side, conversation in (("a", conversation_a), ("b", conversation_b)):
        turns = [str(t.get("content") or "") for t in conversation if t.get("role") == "assistant"]
        meta[metadata_key("sum_assistant_tokens", side)] = sum(count_tokens(t) for t in turns)
        for feature, counts in markdown_counts("\n".join(turns)).items():
            meta[metadata_key(feature, side)] = counts
    return meta


def _count(value) -> float:
    """One count: a non-negative number, or a dict of them (summed); NaN for anything else (reported later)."""
    if type(value) is dict and all(type(v) in _NUMBERS for v in value.values()):
        value = sum(value.values())
    return float(value) if type(value) in _NUMBERS and value >= 0 and math.isfinite(value) else math.nan


def _why_not(meta) -> str:
    """What is wrong with a conv_metadata the fast path could not read (the slow path, for the message)."""
    if not isinstance(meta, dict):
        return f"conv_metadata is {type(meta).__name__}, not an object"
    bad = [f"{key} is {'missing' if key not in meta else repr(meta[key])[:60]}" for key in METADATA_KEYS
           if math.isnan(_count(meta.get(key)))]
    return ", ".join(bad) + " (each must be a count or an object of counts)"


def _clean_counts(metas: list) -> np.ndarray | None:
    """The fast path for well-formed metadata: every battle's eight fields read while its dict is in cache, the
    dict-valued counts summed in C (`map(sum, ...)`) after one C-level pass checks that all they hold are
    numbers. None when anything is missing or odd, for `_counts_one_by_one` to find it."""
    try:
        flat = [meta[key] for meta in metas for key in METADATA_KEYS]
    except (KeyError, TypeError):
        return None
    where = [i for i, v in enumerate(flat) if type(v) is dict]
    dicts = [flat[i] for i in where]
    if not set(map(type, chain.from_iterable(map(dict.values, dicts)))) <= _NUMBERS:
        return None
    for i, total in zip(where, map(sum, map(dict.values, dicts))):
        flat[i] = total
    if not set(map(type, flat)) <= _NUMBERS:
        return None
    return np.array(flat, dtype=float).reshape(len(metas), len(METADATA_KEYS))


def _counts_one_by_one(metas: list) -> np.ndarray:
    return np.array([[_count(m.get(key)) if type(m) is dict else math.nan for key in METADATA_KEYS] for m in metas],
                    dtype=float).reshape(len(metas), len(METADATA_KEYS))


def metadata_counts(metas: list) -> np.ndarray:
    """The eight counts (a's four features, then b's) of each conv_metadata, NaN where one is unusable.

    A million battles' metadata take a few seconds: clean files go the fast way (`_clean_counts`), others
    value by value; negative and non-finite counts become NaN in one numpy pass at the end.
    """
    counts = _clean_counts(metas)
    counts = _counts_one_by_one(metas) if counts is None else counts
    counts[~np.isfinite(counts) | (counts < 0)] = np.nan
    return counts


def _answer_index(answers: dict | list | None) -> dict:
    """(model, question id as text) -> the answer's turns, under the record's `model` and, for a dict of answer
    lists (the pipeline's, keyed by checkpoint), under its key too: judgments may name either."""
    if answers is None:
        return {}
    pairs = answers.items() if isinstance(answers, dict) else [(None, answers)]
    index = {}
    for name, records in pairs:
        for record in records:
            turns = record.get("turns") or ((record.get("choices") or [{}])[0].get("turns"))
            for model in {name, record.get("model")} - {None}:
                index[(model, str(record.get("question_id")))] = turns
    return index


def _from_answers(battle: dict, index: dict, count_tokens) -> list[float]:
    turn = int(battle.get("turn") or 1)
    conversations = []
    for side in ("a", "b"):
        model = battle.get(f"model_{side}")
        turns = index.get((model, str(battle.get("question_id"))))
        if not turns or len(turns) < turn:
            raise ValueError(f"no answer of {model} to question {battle.get('question_id')} (turn {turn}) in the "
                             "answer files")
        conversations.append([{"role": "assistant", "content": t} for t in turns[:turn]])
    return conversation_metadata(*conversations, count_tokens)


def _describe(battle: dict, number: int) -> str:
    where = f"battle {number}"
    if battle.get("question_id") is not None:
        where += f" (question {battle['question_id']}"
        where += f", turn {battle['turn']})" if battle.get("turn") else ")"
    return f"{where}, {battle.get('model_a')} vs {battle.get('model_b')}"


def style_counts(battles: list[dict], answers: dict | list | None = None, tokenizer: str | None = None,
                 skip_missing: bool = False) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Counts (battles x 2 sides x 4 features), a mask of the battles that have them, and the excluded ones.

    Raises StyleFeatureError naming the battles without features, unless `skip_missing`: then they are left
    out of the mask and listed (battle number, models, reason) for the caller to report.
    """
    with collector_paused():
        return _style_counts(battles, answers, tokenizer, skip_missing)


def _style_counts(battles, answers, tokenizer, skip_missing):
    metas = [b.get("conv_metadata") for b in battles]
    reasons: dict[int, str] = {}
    count_tokens, index = None, None
    for i, battle in enumerate(battles):
        if metas[i] is not None:
            continue
        # no metadata: count the style from the texts, the battle's own or the judged answers
        count_tokens = count_tokens or token_counter(tokenizer)
        conv_a, conv_b = battle.get("conversation_a"), battle.get("conversation_b")
        try:
            if isinstance(conv_a, list) and isinstance(conv_b, list):
                metas[i] = conversation_metadata(conv_a, conv_b, count_tokens)
            elif answers is not None:
                index = _answer_index(answers) if index is None else index
                metas[i] = _from_answers(battle, index, count_tokens)
            else:
                reasons[i] = ("no conv_metadata, no conversation_a/conversation_b, and no answer files to count "
                              "the answers' style from")
        except (ValueError, TypeError, AttributeError) as exc:
            reasons[i] = str(exc)
    counts = metadata_counts(metas)
    for i in np.flatnonzero(np.isnan(counts).any(axis=1)):
        reasons.setdefault(int(i), _why_not(metas[i]))
    problems = [{"battle": i + 1, "where": _describe(battles[i], i + 1), "reason": reasons[i]} for i in sorted(reasons)]
    if problems and not skip_missing:
        shown = "; ".join(f"{p['where']}: {p['reason']}" for p in problems[:SHOWN])
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise StyleFeatureError(f"{len(problems)} of {len(battles)} battles have no style features: {shown}{more}. "
                                "Add conv_metadata or the conversations, pass the answer files, or skip them "
                                "(they are then listed as excluded)")
    keep = np.ones(len(battles), dtype=bool)
    keep[[p["battle"] - 1 for p in problems]] = False
    return counts.reshape(len(battles), 2, len(FEATURES)), keep, problems
