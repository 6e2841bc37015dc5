"""Split two conversations that begin alike into an explicit-prompt pair, as TRL's `extract_prompt` does.

The prompt is the longest common beginning, cut back to its last user turn; each conversation's rest is its
completion. TRL cuts at the first difference; cutting back to a user turn keeps every completion starting with
the assistant, so a chat template renders prompt + completion as the one conversation it was. When the two
differ before the last reply (an HH-RLHF pair whose earlier assistant turns differ, an Arena battle of several
turns), the completions are several messages long, user turns included, which TRL's trainers take as they are.
"""

from __future__ import annotations

from chatrecipe.data.schema import RecordError


def _key(message) -> tuple:
    return (message.get("role"), message.get("content")) if isinstance(message, dict) else (None, message)


def split_shared_prompt(chosen: list, rejected: list, field: str = "rejected") -> tuple[list, list, list]:
    """(prompt, chosen completion, rejected completion); raises RecordError when the two are identical or share
    no user turn to serve as the prompt."""
    if not isinstance(chosen, list) or not isinstance(rejected, list):
        raise RecordError(field, "chosen and rejected must be lists of messages")
    same = 0
    while same < min(len(chosen), len(rejected)) and _key(chosen[same]) == _key(rejected[same]):
        same += 1
    if same == len(chosen) == len(rejected):
        raise RecordError(field, "is identical to chosen; a pair must differ to teach a preference")
    cut = same
    while cut > 0 and _key(chosen[cut - 1])[0] != "user":
        cut -= 1
    if cut == 0:
        raise RecordError(field, "shares no first user turn with chosen, so the two answer different prompts")
    return chosen[:cut], chosen[cut:], rejected[cut:]
