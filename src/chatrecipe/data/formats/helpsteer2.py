"""NVIDIA HelpSteer2 rows: a `prompt`, one `response` and its 0-4 scores on `helpfulness`, `correctness`,
`coherence`, `complexity` and `verbosity` (two responses per prompt, one row each); and HelpSteer2-Preference
rows: `prompt`, `response_1`, `response_2` and `preference_strength` (-3..3, negative: response 1 is better).

Scored rows are paired within their prompt by one attribute (option `attribute`, default helpfulness, the one
NVIDIA's reward models are judged on): the higher-scored response is chosen, the score difference is the
`margin`, the chosen score the `rating` (scale `score`), and every attribute of both sides is in `metadata`.
Responses scored alike make no pair; a response in no pair is rejected saying why. A preference row's pair is
its stated preference, with |strength| as margin; strength 0 is a tie and is rejected.

Multi-turn prompts hold the earlier turns, each introduced by "<extra_id_1>User" or "<extra_id_1>Assistant"
(the HelpSteer2 dataset card's layout); they are split back into messages.
"""

from __future__ import annotations

import re
from itertools import combinations

from chatrecipe.data.records import RecordFileError, Row, rejection
from chatrecipe.data.schema import RecordError, number_or_none, validate_messages, validate_preference

NAME = "helpsteer2"
KIND = "preference"
SIGNATURE = "a `prompt`, a `response` and HelpSteer2's attribute scores (or `response_1/2` and `preference_strength`)"
ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
OPTIONS = {"attribute": f"which score orders a prompt's responses: {', '.join(ATTRIBUTES)} (default helpfulness)"}
_TURN = re.compile(r"\s*<extra_id_1>(User|Assistant)\s*\n?")


def fits(row: dict) -> str | None:
    if isinstance(row.get("prompt"), str) and ("response" in row and "helpfulness" in row
                                               or {"response_1", "response_2", "preference_strength"} <= set(row)):
        return None
    return "no `prompt` with a `response` and `helpfulness` (or `response_1/2` and `preference_strength`)"


def convert(row: dict) -> list[dict]:
    raise RecordError("prompt", "HelpSteer2 responses are paired within their prompt; convert the whole file")


def prompt_messages(text: str) -> list[dict]:
    parts = _TURN.split(text)
    messages = [{"role": "user", "content": parts[0].strip()}]
    for speaker, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if speaker == "User" else "assistant", "content": content.strip()})
    if messages[-1]["role"] != "user":
        raise RecordError("prompt", "a multi-turn prompt must end with a User turn")
    return messages


def _scores(row: dict, attribute: str) -> dict:
    scores = {}
    for name in ATTRIBUTES:
        scores[name] = number_or_none(row.get(name), name)
    if scores[attribute] is None:
        raise RecordError(attribute, "missing, so the response cannot be ordered by it")
    return scores


def _preference_row(row: Row) -> dict:
    data = row.data
    strength = number_or_none(data["preference_strength"], "preference_strength")
    if strength is None:
        raise RecordError("preference_strength", "missing: a number from -3 to 3")
    if strength == 0:
        raise RecordError("preference_strength", "0: the two responses are rated equal (a tie teaches nothing)")
    chosen, rejected = ("response_1", "response_2") if strength < 0 else ("response_2", "response_1")
    prompt = validate_messages(prompt_messages(data["prompt"]), "prompt")
    return validate_preference({"prompt": prompt, "chosen": data[chosen], "rejected": data[rejected],
                                "margin": float(abs(strength)), "source": "helpsteer2",
                                "metadata": {k: data[k] for k in ("split", "preference_statement") if data.get(k)}})


def convert_all(rows: list[Row], attribute: str = "helpfulness") -> tuple[list[dict], list[dict]]:
    if attribute not in ATTRIBUTES:
        raise RecordFileError(f"unknown HelpSteer2 attribute {attribute!r}; use one of {', '.join(ATTRIBUTES)}")
    records, rejected, groups = [], [], {}
    for row in rows:
        try:
            if "preference_strength" in row.data:
                records.append(_preference_row(row))
                continue
            prompt = validate_messages(prompt_messages(row.data["prompt"]), "prompt")
            if not isinstance(row.data["response"], str) or not row.data["response"].strip():
                raise RecordError("response", "empty or not text")
            groups.setdefault(row.data["prompt"], []).append((row, prompt, _scores(row.data, attribute)))
        except RecordError as exc:
            rejected.append(rejection(row, exc.reason, exc.field))
    for group in groups.values():
        used = set()
        for (row_a, prompt, a), (row_b, _, b) in combinations(group, 2):
            if a[attribute] == b[attribute] or row_a.data["response"] == row_b.data["response"]:
                continue
            (best, s_best), (worse, s_worse) = sorted([(row_a, a), (row_b, b)], key=lambda x: -x[1][attribute])
            try:
                records.append(validate_preference({
                    "prompt": prompt, "chosen": best.data["response"], "rejected": worse.data["response"],
                    "margin": float(s_best[attribute] - s_worse[attribute]), "rating": s_best[attribute],
                    "scale": "score", "source": "helpsteer2",
                    "metadata": {"attribute": attribute, "scores_chosen": s_best, "scores_rejected": s_worse}}))
            except RecordError as exc:  # the pair, not the file: both rows go to the rejected file with the reason
                rejected += [rejection(r, f"its pair cannot be a record: {exc.reason}", exc.field)
                             for r in (row_a, row_b) if id(r) not in used]
            used.update((id(row_a), id(row_b)))
        for row, _, _ in group:
            if id(row) not in used:
                alone = len(group) == 1
                rejected.append(rejection(row, "the only response to its prompt, so there is nothing to pair it with"
                                          if alone else f"scored like every other response to its prompt on "
                                                        f"{attribute}, so it makes no pair", attribute))
    return records, rejected
