"""TRL's unpaired preference rows (KTO): `prompt`, `completion` and a boolean `label` (true: desirable).

chatrecipe's trainers learn from pairs, so the file is read as a whole and paired back, the inverse of TRL's
`unpair_preference_dataset`: for each prompt, every desirable completion against every undesirable one (no
margin: the labels say which is better, not by how much). A desirable completion whose prompt has no
undesirable one is still a good demonstration and becomes a conversation; an undesirable one with no desirable
partner teaches nothing chatrecipe trains on, and is rejected saying so."""

from __future__ import annotations

import json

from chatrecipe.data.formats.prompt_completion import as_messages
from chatrecipe.data.records import Row, rejection
from chatrecipe.data.schema import RecordError, validate_conversation, validate_preference

NAME = "unpaired"
KIND = "conversation|preference"
SIGNATURE = "`prompt`, `completion` and a true/false `label` (TRL's unpaired / KTO rows)"


def fits(row: dict) -> str | None:
    return None if "prompt" in row and "completion" in row and isinstance(row.get("label"), bool) else \
        "no `prompt`, `completion` and boolean `label` fields"


def convert(row: dict) -> list[dict]:
    raise RecordError("label", "an unpaired row is paired with the other rows of its prompt; convert the whole file")


def _group(rows: list[Row], rejected: list[dict]) -> dict[str, dict[bool, list]]:
    """Valid rows by prompt and label; an invalid one (its prompt + completion is no conversation) is rejected."""
    groups: dict[str, dict[bool, list]] = {}
    for row in rows:
        try:
            prompt = as_messages(row.data["prompt"], "user", "prompt")
            completion = as_messages(row.data["completion"], "assistant", "completion")
            conversation = validate_conversation({"messages": prompt + completion})["messages"]
            if not prompt or prompt[-1].get("role") != "user" or completion[0].get("role") != "assistant":
                raise RecordError("completion", "the prompt must end with a user turn and the completion start "
                                                "with the assistant's")
        except RecordError as exc:
            rejected.append(rejection(row, exc.reason, exc.field))
            continue
        prompt, completion = conversation[:len(prompt)], conversation[len(prompt):]
        key = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
        groups.setdefault(key, {True: [], False: []})[row.data["label"]].append((row, prompt, completion))
    return groups


def _source(row: Row) -> str:
    return row.data.get("source") or "trl-unpaired"


def convert_all(rows: list[Row]) -> tuple[list[dict], list[dict]]:
    records, rejected = [], []
    for sides in _group(rows, rejected).values():
        good, bad = sides[True], sides[False]
        if not bad:  # demonstrations
            records += [validate_conversation({"messages": p + c, "source": _source(r)}) for r, p, c in good]
            continue
        if not good:
            rejected += [rejection(r, "an undesirable completion whose prompt has no desirable one: no pair to learn "
                                      "from, and not a demonstration", "label") for r, _, _ in bad]
            continue
        used = set()
        for row, prompt, chosen in good:
            for other, _, worse in bad:
                if chosen != worse:
                    records.append(validate_preference({"prompt": prompt, "chosen": chosen, "rejected": worse,
                                                        "source": _source(row)}))
                    used.update((id(row), id(other)))
        rejected += [rejection(r, "the same completion is labelled both desirable and undesirable for this prompt, "
                                  "so it pairs with nothing", "label") for r, _, _ in good + bad if id(r) not in used]
    return records, rejected
