"""The records that flow between chatrecipe's stages, and their validation.

Records are plain dicts (one JSON object per line on disk) so they go straight into `datasets`, pandas and
TRL without conversion. Each `validate_*` function returns a normalised copy of a record or raises
`RecordError` naming the field at fault and what to do about it; readers turn that error into a rejected
record with the file and line, so nothing is ever dropped silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from typing import Any, Callable

from chatrecipe.data.strict_json import problem

ROLES = ("system", "user", "assistant")
CATEGORIES = (
    "generation",
    "open_qa",
    "brainstorming",
    "chat",
    "rewrite",
    "summarization",
    "classification",
    "closed_qa",
    "extract",
    "coding",
    "math",
    "other",
)
# anthropic-8 and llama2-4: the annotation app's scales; score: a numeric grade (UltraFeedback, SHP, H4);
# confidence-9: summarize-from-feedback's 1-9 labeller confidence in the choice
SCALES = ("anthropic-8", "llama2-4", "score", "confidence-9")
VERDICTS = ("model_a", "model_b", "tie")
BATTLE_WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
JUDGMENT_KINDS = ("single", "pairwise")
ORDERS = ("ab", "ba")


class RecordError(ValueError):
    """A record that does not fit its schema: `field` names the offending field (dotted path)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


def _require(record: dict, field: str) -> Any:
    if field not in record or record[field] is None:
        raise RecordError(field, "missing; add it to the record")
    return record[field]


def _text(value: Any, field: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RecordError(field, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise RecordError(field, "is empty; write the text or drop the record")
    return value


def number_or_none(value: Any, field: str) -> float | None:
    """A finite number (bools, text, NaN, infinities and integers beyond any float are RecordErrors) or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(field, f"must be a number or null, got {value!r}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any float: no trainer can use it
        finite = False
    if not finite:
        raise RecordError(field, f"must be a finite number or null, got {str(value)[:40]}")
    return value


def loose_number(value: Any) -> float | None:
    """A figure kept only as metadata (votes, ratios, per-aspect ratings): a finite number, else None, so a NaN or an
    "N/A" in a field no trainer reads never costs the record."""
    try:
        return number_or_none(float(value) if isinstance(value, str) else value, "value")
    except (RecordError, ValueError):
        return None


def strict_json(validator: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """Refuse a record holding NaN, Infinity or a lone surrogate anywhere (see strict_json), naming the field."""

    @functools.wraps(validator)
    def checked(record: dict) -> dict:
        out = validator(record)
        found = problem(out)
        if found:
            raise RecordError(*found)
        return out

    return checked


def category_of(record: dict) -> str:
    """A record's task category ("other" when it has none), or a RecordError naming the unknown one."""
    category = record.get("category") or "other"
    if category not in CATEGORIES:
        raise RecordError("category", f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    return category


def record_id(payload: Any) -> str:
    """A stable id from a record's content, for records that arrive without one."""
    # surrogatepass: a lone surrogate must reach the strict-JSON check (and its reason), not crash the hash
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha1(blob).hexdigest()[:16]


def validate_message(message: Any, field: str = "message") -> dict:
    """A chat message: a known role and non-empty text content."""
    if not isinstance(message, dict):
        raise RecordError(field, f"must be an object with role and content, got {type(message).__name__}")
    role = _require(message, "role") if "role" in message else None
    if role is None:
        raise RecordError(f"{field}.role", "missing; use system, user or assistant")
    if role not in ROLES:
        raise RecordError(f"{field}.role", f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if "content" not in message or message["content"] is None:
        raise RecordError(f"{field}.content", "missing; every message needs text content")
    content = _text(message["content"], f"{field}.content")
    return {"role": role, "content": content}


def validate_messages(messages: Any, field: str = "messages") -> list[dict]:
    """A non-empty list of messages with any system message first."""
    if not isinstance(messages, list) or not messages:
        raise RecordError(field, "must be a non-empty list of messages")
    out = [validate_message(m, f"{field}[{i}]") for i, m in enumerate(messages)]
    for i, m in enumerate(out[1:], start=1):
        if m["role"] == "system":
            raise RecordError(f"{field}[{i}].role", "a system message may only come first")
    return out


@strict_json
def validate_conversation(record: dict) -> dict:
    """SFT conversation: messages that contain a user turn and end with a non-empty assistant turn."""
    messages = validate_messages(_require(record, "messages"))
    if not any(m["role"] == "user" for m in messages):
        raise RecordError("messages", "has no user turn; a demonstration answers a user")
    if messages[-1]["role"] != "assistant":
        raise RecordError(f"messages[{len(messages) - 1}].role", "the conversation must end with an assistant turn")
    return {
        **record,
        "id": str(record.get("id") or record_id(messages)),
        "messages": messages,
        "category": category_of(record),
        "source": record.get("source"),
    }


def _assistant_turn(value: Any, field: str) -> list[dict]:
    """A completion: one assistant message or, as TRL takes it, several turns that start and end with the assistant
    (a pair whose conversations part before the last reply: the user turns in between belong to that completion)."""
    if isinstance(value, str):
        value = [{"role": "assistant", "content": value}]  # a bare string is accepted for convenience
    if isinstance(value, dict):
        value = [value]
    messages = validate_messages(value, field)
    for i, m in enumerate(messages):
        if m["role"] == "system":
            raise RecordError(f"{field}[{i}].role", "a response cannot hold a system message")
    for end in (0, len(messages) - 1):
        if messages[end]["role"] != "assistant":
            raise RecordError(f"{field}[{end}].role", "a response must start and end with an assistant message")
    return messages


@strict_json
def validate_preference(record: dict) -> dict:
    """Preference pair: a prompt ending with a user turn, and different chosen and rejected responses."""
    prompt = _require(record, "prompt")
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    prompt = validate_messages(prompt, "prompt")
    if prompt[-1]["role"] != "user":
        raise RecordError(f"prompt[{len(prompt) - 1}].role", "the prompt must end with a user turn")
    chosen = _assistant_turn(_require(record, "chosen"), "chosen")
    rejected = _assistant_turn(_require(record, "rejected"), "rejected")
    if chosen == rejected:
        raise RecordError("rejected", "is identical to chosen; a pair must differ to teach a preference")
    scale = record.get("scale")
    if scale is not None and scale not in SCALES:
        raise RecordError("scale", f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    margin = number_or_none(record.get("margin"), "margin")
    rating = record.get("rating")
    if not isinstance(rating, str):
        rating = number_or_none(rating, "rating")
    if margin is not None and margin < 0:
        raise RecordError("margin", "must be >= 0: the margin says by how much chosen beats rejected")
    return {
        **record,
        "id": str(record.get("id") or record_id([prompt, chosen, rejected])),
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "margin": margin,
        "rating": rating,
        "scale": scale,
        "category": category_of(record),
        "source": record.get("source"),
        "annotator": record.get("annotator"),
    }


def _text_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RecordError(field, "must be a non-empty list of strings")
    return [_text(v, f"{field}[{i}]", allow_empty=False) for i, v in enumerate(value)]


@strict_json
def validate_question(record: dict) -> dict:
    """MT-Bench question: id, category and one user text per turn; optional reference answers per turn."""
    qid = _require(record, "question_id")
    turns = _text_list(_require(record, "turns"), "turns")
    reference = record.get("reference")
    if reference is not None:
        if not isinstance(reference, list) or not all(isinstance(r, str) for r in reference):
            raise RecordError("reference", "must be a list of strings (one per turn) or null")
    return {**record, "question_id": qid, "category": record.get("category") or "other", "turns": turns,
            "reference": reference}


@strict_json
def validate_answer(record: dict) -> dict:
    """A model's answers to one question, one assistant text per turn (empty texts are kept: they are data)."""
    qid = _require(record, "question_id")
    model = _text(_require(record, "model"), "model")
    turns = record.get("turns")
    if turns is None and isinstance(record.get("choices"), list) and record["choices"]:
        turns = record["choices"][0].get("turns")  # FastChat's model_answer files
    if not isinstance(turns, list) or not turns:
        raise RecordError("turns", "must be a non-empty list of the model's texts, one per turn")
    turns = [_text(t, f"turns[{i}]", allow_empty=True) for i, t in enumerate(turns)]
    if record.get("error"):  # an empty text standing for an answer that was never made: not data to judge
        raise RecordError("error", f"generation failed ({record['error']}); to ask for it again, delete the "
                                   "answer file and run `chatrecipe generate` again (answers that came back are "
                                   "cached)")
    return {**record, "question_id": qid, "model": model, "turns": turns, "generator": record.get("generator")}


@strict_json
def validate_judgment(record: dict) -> dict:
    """A judge's verdict; a failed one keeps `error` and has no score or winner (it is counted, never defaulted)."""
    kind = _require(record, "kind")
    if kind not in JUDGMENT_KINDS:
        raise RecordError("kind", f"unknown kind {kind!r}; use single or pairwise")
    _require(record, "question_id")
    _text(_require(record, "judge"), "judge")
    error = record.get("error")
    if kind == "single":
        _text(_require(record, "model"), "model")
        if error is None:
            score = number_or_none(_require(record, "score"), "score")
            if score is None:
                raise RecordError("score", "missing on a judgment without an error")
            if not 1 <= score <= 10:  # what judge single parses; a 0, 11 or -3 would move the mean unseen
                raise RecordError("score", f"{score:g} is outside the 1-10 grading scale (a failed grade keeps `error`)")
    else:
        _text(_require(record, "model_a"), "model_a")
        _text(_require(record, "model_b"), "model_b")
        order = record.get("order", "ab")
        if order is not None and order not in ORDERS:  # None: the file does not say (AlpacaEval's annotations)
            raise RecordError("order", f"unknown order {order!r}; use ab or ba (or null when it is not known)")
        if error is None and record.get("winner") not in VERDICTS:
            raise RecordError("winner", f"must be one of {', '.join(VERDICTS)} on a judgment without an error")
    return {"turn": 1, "raw": None, "error": None, "prompt_hash": None, **record}


@strict_json
def validate_battle(record: dict) -> dict:
    """Chatbot Arena battle: two different models and a winner label."""
    a = _text(_require(record, "model_a"), "model_a")
    b = _text(_require(record, "model_b"), "model_b")
    if a == b:
        raise RecordError("model_b", "is the same model as model_a; a battle needs two models")
    winner = _require(record, "winner")
    if winner not in BATTLE_WINNERS:
        raise RecordError("winner", f"unknown winner {winner!r}; use one of {', '.join(BATTLE_WINNERS)}")
    return {"question_id": None, "category": None, "judge": None, **record}


VALIDATORS: dict[str, Callable[[dict], dict]] = {
    "conversation": validate_conversation,
    "preference": validate_preference,
    "question": validate_question,
    "answer": validate_answer,
    "judgment": validate_judgment,
    "battle": validate_battle,
}


def detect_kind(record: dict) -> str | None:
    """Which record kind a dict looks like, from its distinguishing fields."""
    if "chosen" in record and "rejected" in record and "prompt" in record:
        return "preference"
    if "messages" in record:
        return "conversation"
    if "kind" in record and "judge" in record:
        return "judgment"
    if "model_a" in record and "model_b" in record and "winner" in record:
        return "battle"
    if "question_id" in record and "model" in record and ("turns" in record or "choices" in record):
        return "answer"
    if "question_id" in record and "turns" in record:
        return "question"
    return None
