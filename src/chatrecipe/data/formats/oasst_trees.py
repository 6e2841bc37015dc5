"""OpenAssistant's official tree export (`*.trees.jsonl(.gz)`, oasst_data's ExportMessageTree): one message tree
per line, `{message_tree_id, tree_state, prompt, origin}`, where `prompt` is the root message and every
message holds its answers in `replies` (each with `message_id`, `text`, `role` prompter|assistant, `rank`,
`lang`, `labels` {name: {value, count}}, `emojis`, `deleted`, ...).

Each tree is unfolded into its messages (walking `replies` without recursion, so a deep tree cannot exhaust the
stack; the nesting, not a message's own `parent_id`, says who answers whom) and converted exactly like the flat
oasst rows (see oasst: the best-ranked thread as a conversation, ranked sibling replies as pairs with the rank
difference as margin); a rejected message keeps the line of its tree. As OpenAssistant's own trainers do, a tree
whose `tree_state` is not `ready_for_export`, or whose prompt failed review, is rejected whole, saying so.
"""

from __future__ import annotations

from chatrecipe.data.formats import oasst
from chatrecipe.data.records import Row, rejection
from chatrecipe.data.schema import RecordError

NAME = "oasst-trees"
KIND = "conversation|preference"
SIGNATURE = "`message_tree_id` and a `prompt` message with nested `replies` (OpenAssistant's tree export)"
READY = "ready_for_export"


def fits(row: dict) -> str | None:
    prompt = row.get("prompt")
    if "message_tree_id" in row and isinstance(prompt, dict) and "message_id" in prompt:
        return None
    return "no `message_tree_id` with a `prompt` message (OpenAssistant's tree export)"


def convert(row: dict) -> list[dict]:
    raise RecordError("prompt", "an OpenAssistant tree converts with its file (chatrecipe.data.convert.convert or "
                                "`chatrecipe data convert`)")


def _unfold(tree: Row) -> tuple[list[Row], str | None]:
    """The tree's messages as flat oasst rows (same file and line), or a reason the whole tree is refused."""
    data = tree.data
    state = data.get("tree_state")
    if state is not None and state != READY:
        return [], (f"tree_state {state!r}: only trees {READY!r} are complete and reviewed (OpenAssistant's trainers "
                    "skip the rest)")
    if data["prompt"].get("review_result") is False:
        return [], "the tree's prompt failed review (review_result false)"
    messages, stack = [], [(data["prompt"], None)]
    while stack:
        node, parent = stack.pop()
        if not isinstance(node, dict):
            messages.append(Row(tree.file, tree.line, None, f"a reply is not a message object: {str(node)[:200]}"))
            continue
        replies = node.get("replies") or []
        flat = {k: v for k, v in node.items() if k != "replies"}
        flat.update(parent_id=parent, message_tree_id=data["message_tree_id"], tree_state=state)
        messages.append(Row(tree.file, tree.line, flat))
        if isinstance(replies, list):
            stack.extend((reply, node.get("message_id")) for reply in reversed(replies))
    return messages, None


def convert_all(rows: list[Row]) -> tuple[list[dict], list[dict]]:
    messages, rejected = [], []
    for tree in rows:
        unfolded, refused = _unfold(tree)
        if refused:
            rejected.append(rejection(tree, refused, "tree_state"))
        rejected += [rejection(m, m.error) for m in unfolded if m.error]
        messages += [m for m in unfolded if not m.error]
    records, more = oasst.convert_all(messages)
    return records, rejected + more
