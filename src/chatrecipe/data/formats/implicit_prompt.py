"""TRL's implicit-prompt preference rows: `chosen` and `rejected` conversations that both begin with the prompt,
no `prompt` field (TRL's `extract_prompt` splits them, and so does this; see shared_prompt). Optional `margin`,
`score_chosen` / `score_rejected` are kept."""

from chatrecipe.data.formats import h4

NAME = "implicit-prompt"
KIND = "preference"
SIGNATURE = "`chosen`/`rejected` message lists that begin with the prompt (TRL's implicit-prompt rows)"


def fits(row: dict) -> str | None:
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if "prompt" not in row and isinstance(chosen, list) and isinstance(rejected, list) and chosen \
            and isinstance(chosen[0], dict) and chosen[0].get("role") in ("user", "system"):
        return None
    return "no `chosen`/`rejected` message lists that begin with a user turn"


def convert(row: dict) -> list[dict]:
    return [h4.pair_from_conversations(row, "trl")]
