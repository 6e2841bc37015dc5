"""Write answers and judgments in another tool's layout (FastChat `llm_judge`, AlpacaEval), next to the resumable
chatrecipe file they come from.

Run as: `chatrecipe generate ... -o model_answer/sft.jsonl --format fastchat`, `chatrecipe generate ... -o
model_outputs.json --format alpaca_eval`, `chatrecipe judge pairwise ... -o model_judgment/gpt-4_pair.jsonl
--format fastchat`.

Generation and judging append chatrecipe records as they go (that is what makes them resumable), so with a
foreign format they write to `.chatrecipe/<output name>` beside the output (a hidden folder, because FastChat
reads every `model_answer/*.jsonl` as a model) and the requested file is laid out from it at the end.
Records a layout cannot hold (a two-turn answer in AlpacaEval's single-turn file) go to
`<output>.rejected.jsonl` with the reason, and the caller reports them.
"""

from __future__ import annotations

from pathlib import Path

from chatrecipe.data.eval_formats import WRITE_FORMATS, alpaca_eval, answer_rows, judgment_rows, write_json_list
from chatrecipe.data.records import write_records, write_rejected


def check_format(fmt: str) -> str:
    if fmt not in WRITE_FORMATS:
        raise ValueError(f"unknown --format {fmt!r}; use one of {', '.join(WRITE_FORMATS)}")
    return fmt


def working_path(output: str | Path, fmt: str) -> Path:
    """Where the resumable chatrecipe records go: the output itself, or `.chatrecipe/<output name>` beside it."""
    output = Path(output)
    if check_format(fmt) == "chatrecipe":
        return output
    return output.parent / ".chatrecipe" / (output.name if output.suffix == ".jsonl" else output.stem + ".jsonl")


def export_answers(output: str | Path, answers: list[dict], fmt: str,
                   questions: list[dict] | None = None) -> dict:
    """Lay out answer records as `fmt` at `output`; returns {written, rejected, rejected_path}."""
    rows, rejected = answer_rows(answers, check_format(fmt), questions)
    if fmt == alpaca_eval.NAME:
        write_json_list(output, rows)  # AlpacaEval reads a JSON list, not JSON Lines
    elif fmt != "chatrecipe":
        write_records(output, rows)
    rejected_at = write_rejected(output, [{"file": str(output), "line": None, **r} for r in rejected])
    return {"written": len(rows), "rejected": len(rejected), "rejected_path": rejected_at}


def export_judgments(output: str | Path, judgments: list[dict], fmt: str) -> dict:
    """Lay out judgment records as `fmt` at `output` (FastChat: a pair row holds both orders of a game)."""
    rows = judgment_rows(judgments, check_format(fmt))
    if fmt != "chatrecipe":
        write_records(output, rows)
    return {"written": len(rows), "rejected": 0, "rejected_path": None}
