"""OpenAssistant (oasst1/oasst2) message trees: one row per message (`message_id`, `parent_id`, `text`, `role`
prompter|assistant, `rank`, `lang`, `message_tree_id`); a file converts as a whole, since a record spans rows.

Two kinds of record come out, in one (mixed) file:

- Conversations: the best-ranked thread of each tree. From the root prompt, follow at every step the reply
  with the best (lowest) `rank`, unranked replies after ranked ones and, among equals, the first in the file,
  until a message has no reply; a trailing prompt with no answer is dropped. This is the `oasst_top1`
  convention: one demonstration per tree, no near-duplicate prefixes (all leaves would repeat each prompt up
  to tens of times and the dedup step would then remove most of them).
- Preference pairs: for every prompt with two or more ranked assistant replies, each better-ranked reply
  against each worse-ranked one (all k(k-1)/2 pairs, as InstructGPT trained its reward model on all pairs of
  a ranking), `margin` = rank difference; the prompt is the thread from the root to that prompt.

Each record's `metadata` keeps the message ids, language and tree id, and the human labels (quality, toxicity,
humor, ... as {name: mean value}) of the last message, or of the chosen and rejected replies.

Nothing is dropped silently: a malformed, deleted, duplicated or unreachable message (missing parent, a
cycle, a reply with the same role as its parent) is rejected with the reason, and so is a valid message that
ends up in no record (off the best thread and in no ranked pair), saying so.
"""

from __future__ import annotations

from itertools import combinations

from chatrecipe.data.records import Row, rejection
from chatrecipe.data.schema import RecordError, validate_conversation, validate_preference

NAME = "oasst"
KIND = "conversation|preference"
SIGNATURE = "oasst message fields (`message_id`, `parent_id`, `text`, `role` prompter|assistant)"
ROLES = {"prompter": "user", "assistant": "assistant"}
_FIELDS = ("message_id", "parent_id", "text", "role")


def fits(row: dict) -> str | None:
    if set(_FIELDS) <= set(row) and isinstance(row.get("role"), str) and row["role"] in ROLES:
        return None
    return "no oasst message fields (`message_id`, `parent_id`, `text`, `role` prompter|assistant)"


def convert(row: dict) -> list[dict]:
    raise RecordError("message_id", "an oasst row is one message of a tree; convert the whole file "
                                    "(chatrecipe.data.convert.convert or `chatrecipe data convert`)")


def _problem(data: dict) -> tuple[str, str] | None:
    """(field, reason) when a message row cannot be part of a tree, else None."""
    if not isinstance(data.get("message_id"), str) or not data["message_id"]:
        return "message_id", "missing or not text"
    if not isinstance(data.get("role"), str) or data["role"] not in ROLES:
        return "role", f"unknown role {data.get('role')!r}; oasst roles are prompter and assistant"
    if not isinstance(data.get("text"), str) or not data["text"].strip():
        return "text", "empty or not text"
    if data.get("parent_id") is not None and not isinstance(data["parent_id"], str):
        return "parent_id", "must be a message id or null"
    if data.get("deleted") is True:
        return "deleted", "the message was deleted in the OpenAssistant export"
    rank = data.get("rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, float))):
        return "rank", f"must be a number or null, got {rank!r}"
    return None


def _rank_key(item: tuple[int, Row]) -> tuple:
    order, row = item
    rank = row.data.get("rank")
    return (rank is None, rank if rank is not None else 0, order)


def convert_all(rows: list[Row]) -> tuple[list[dict], list[dict]]:
    """(records, rejected) for all message rows of one file (rows that failed to parse are handled by the caller)."""
    rejected, messages, order = [], {}, {}
    for index, row in enumerate(rows):
        problem = _problem(row.data)
        if problem:
            rejected.append(rejection(row, problem[1], problem[0]))
        elif row.data["message_id"] in messages:
            rejected.append(rejection(row, f"duplicate message_id {row.data['message_id']!r}", "message_id"))
        else:
            messages[row.data["message_id"]] = row
            order[row.data["message_id"]] = index
    children: dict[str, list[tuple[int, Row]]] = {}
    roots = []
    for mid, row in messages.items():
        parent = row.data.get("parent_id")
        if parent is None:
            roots.append(row)
        else:
            children.setdefault(parent, []).append((order[mid], row))

    # walk down from the roots: only messages reachable with alternating roles belong to a tree
    reachable: dict[str, list[Row]] = {}  # message id -> thread from the root to it
    stack, bad = [], set()
    for root in roots:
        if root.data["role"] != "prompter":
            rejected.append(rejection(root, "a tree's first message must be the prompter's", "role"))
            bad.add(root.data["message_id"])
            continue
        stack.append((root, [root]))
    while stack:
        row, thread = stack.pop()
        reachable[row.data["message_id"]] = thread
        for _, child in children.get(row.data["message_id"], []):
            if child.data["role"] == row.data["role"]:
                rejected.append(rejection(child, f"a {child.data['role']} message answers a {row.data['role']} "
                                                 "one; roles must alternate", "role"))
                bad.add(child.data["message_id"])
            else:
                stack.append((child, thread + [child]))
    for mid, row in messages.items():
        if mid not in reachable and mid not in bad:
            rejected.append(rejection(row, "not reachable from a root prompt (its parent is missing, rejected, or "
                                           "part of a cycle)", "parent_id"))

    records, used = [], set()
    for root in roots:
        if root.data["message_id"] not in reachable:
            continue
        records += _best_thread(root, children, reachable, used)
    for mid, thread in reachable.items():
        records += _pairs(messages[mid], children, thread, used, reachable)
    for mid, row in messages.items():
        if mid in reachable and mid not in used:
            rejected.append(rejection(row, "valid, but in no record: off the best-ranked thread and in no ranked pair "
                                           "(the oasst converter keeps one thread per tree)", "rank"))
    return records, rejected


def _messages(thread: list[Row]) -> list[dict]:
    return [{"role": ROLES[r.data["role"]], "content": r.data["text"]} for r in thread]


def labels(message: dict) -> dict | None:
    """{label: mean value} from either export's layout: the flat rows' {name: [...], value: [...]} columns or the
    trees' {name: {value, count}}; None when there are none."""
    found = message.get("labels")
    if not isinstance(found, dict) or not found:
        return None
    if isinstance(found.get("name"), list) and isinstance(found.get("value"), list):
        return dict(zip(found["name"], found["value"])) or None
    return {name: v.get("value") for name, v in found.items() if isinstance(v, dict)} or None


def _meta(thread: list[Row]) -> dict:
    last = thread[-1].data
    return {"message_ids": [r.data["message_id"] for r in thread], "lang": last.get("lang"),
            "message_tree_id": last.get("message_tree_id")}


def _best_thread(root: Row, children: dict, reachable: dict, used: set) -> list[dict]:
    node = root
    while True:
        replies = [c for c in children.get(node.data["message_id"], []) if c[1].data["message_id"] in reachable]
        if not replies:
            break
        node = min(replies, key=_rank_key)[1]
    thread = reachable[node.data["message_id"]]
    if thread[-1].data["role"] == "prompter":
        thread = thread[:-1]  # an unanswered last prompt teaches nothing
    if len(thread) < 2:
        return []
    meta = {**_meta(thread), "labels": labels(thread[-1].data)}
    record = validate_conversation({"id": f"oasst-{root.data['message_id']}", "messages": _messages(thread),
                                    "source": "oasst", "metadata": meta})
    used.update(r.data["message_id"] for r in thread)
    return [record]


def _pairs(prompt: Row, children: dict, thread: list[Row], used: set, reachable: dict) -> list[dict]:
    if prompt.data["role"] != "prompter":
        return []
    ranked = sorted((c for c in children.get(prompt.data["message_id"], [])
                     if c[1].data.get("rank") is not None and c[1].data["message_id"] in reachable), key=_rank_key)
    records = []
    for (_, better), (_, worse) in combinations(ranked, 2):
        if better.data["rank"] == worse.data["rank"] or better.data["text"] == worse.data["text"]:
            continue  # a tie (or the same text twice) teaches no preference
        records.append(validate_preference({
            "id": f"oasst-{better.data['message_id']}>{worse.data['message_id']}", "prompt": _messages(thread),
            "chosen": [{"role": "assistant", "content": better.data["text"]}],
            "rejected": [{"role": "assistant", "content": worse.data["text"]}],
            "margin": float(worse.data["rank"] - better.data["rank"]), "rating": None, "scale": None,
            "source": "oasst", "metadata": {**_meta(thread), "chosen_id": better.data["message_id"],
                                             "rejected_id": worse.data["message_id"],
                                             "chosen_labels": labels(better.data),
                                             "rejected_labels": labels(worse.data)}}))
        used.update(r.data["message_id"] for r in thread)
        used.update((better.data["message_id"], worse.data["message_id"]))
    return records
