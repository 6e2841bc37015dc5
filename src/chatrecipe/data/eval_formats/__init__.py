"""Evaluation files other tools write (FastChat `llm_judge`, AlpacaEval), read row by row as chatrecipe records and
written back in their layouts, so answers and judgments move between the tools without a script.

`to_native(row, kind)` is the hook `records.load_records` calls on every row: a foreign row becomes the records
it holds (a FastChat pair row is two judgments, one per order), any other row passes through unchanged.
"""

from __future__ import annotations

from pathlib import Path

from chatrecipe.data.eval_formats import alpaca_eval, fastchat
from chatrecipe.data.schema import RecordError

WRITE_FORMATS = ("chatrecipe", fastchat.NAME, alpaca_eval.NAME)
EVAL_KINDS = ("question", "answer", "judgment", "battle")  # the kinds a FastChat or AlpacaEval row can be asked for


def to_native(row: dict, kind: str | None = None, path: str | Path | None = None) -> list[dict]:
    """The chatrecipe records a row holds when it is in a foreign layout; `[row]` when it is not."""
    if "kind" in row or "messages" in row or "prompt" in row:
        return [row]  # our own records (and TRL's) are never reinterpreted
    converted = fastchat.to_records(row, kind, path)
    if converted is None:
        converted = alpaca_eval.to_records(row, kind)
    if converted is None and kind in EVAL_KINDS and (layout := foreign_layout(row)):
        # said plainly: validated as it is, the row would be refused for a missing field ("add it to the record")
        name, where = layout
        raise RecordError("kind", f"this row is {name}, not a {kind}: {where}")
    return [row] if converted is None else converted


def foreign_layout(row: dict) -> tuple[str, str] | None:
    """(the layout a row is in, as its tool names the file; where chatrecipe reads it) for FastChat and AlpacaEval
    rows."""
    if fastchat.is_answer(row):
        return "a FastChat answer (model_answer/<model>.jsonl)", "answers go to --answers / --answers-a / -b"
    if fastchat.is_single(row):
        return ("a FastChat single grade (model_judgment/<judge>_single.jsonl)",
                "single grades go to eval mt-bench --judgments or eval audit --single")
    if fastchat.is_pair(row):
        return ("a FastChat pairwise judgment (model_judgment/<judge>_pair.jsonl)",
                "pairwise judgments go to eval winrate, eval elo, eval mt-bench or eval audit --pairwise")
    if alpaca_eval.is_annotation(row):
        return ("an AlpacaEval annotation (annotations.json)",
                "annotations go to eval winrate, eval elo, eval mt-bench or eval audit --pairwise")
    if alpaca_eval.is_outputs(row):
        return "an AlpacaEval output (model_outputs.json)", "outputs go to --answers or --questions"
    return None


def answer_rows(answers: list[dict], fmt: str, questions: list[dict] | None = None) -> tuple[list[dict], list[dict]]:
    """Answer records laid out as `fmt` writes them, and the ones it cannot hold (with the reason)."""
    if fmt == "chatrecipe":
        return list(answers), []
    if fmt == fastchat.NAME:
        return [fastchat.answer_row(a) for a in answers], []
    if fmt == alpaca_eval.NAME:
        instructions = {q["question_id"]: q["turns"][0] for q in questions or []}
        rows, rejected = [], []
        for answer in answers:
            try:
                rows.append(alpaca_eval.outputs_row(answer, instructions.get(answer["question_id"])))
            except RecordError as exc:
                rejected.append({"question_id": answer["question_id"], "field": exc.field, "reason": exc.reason,
                                 "record": answer})
        return rows, rejected
    raise ValueError(f"unknown answer format {fmt!r}; use one of {', '.join(WRITE_FORMATS)}")


def judgment_rows(judgments: list[dict], fmt: str) -> list[dict]:
    """Judgment records laid out as `fmt` writes them (FastChat: single grades and pair rows, as FastChat splits
    them into `<judge>_single.jsonl` and `<judge>_pair.jsonl`, so give one kind per file)."""
    if fmt == "chatrecipe":
        return list(judgments)
    if fmt != fastchat.NAME:
        raise ValueError(f"judgments are written as chatrecipe or fastchat, not {fmt!r}")
    single = [fastchat.single_row(j) for j in judgments if j.get("kind") == "single"]
    return single + fastchat.pair_rows([j for j in judgments if j.get("kind") == "pairwise"])


def write_json_list(path: str | Path, rows: list[dict]) -> int:
    """A JSON list file, as AlpacaEval reads `model_outputs.json` (JSON Lines would not load there); atomic, and
    strict as every file chatrecipe writes (no NaN, no lone surrogate: `strict_json.dumps` names the field). The
    file gets the mode the umask gives every other output (a mkstemp file would stay 0600, unreadable to a team)."""
    import os
    import uuid

    from chatrecipe.data.strict_json import dumps

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "[\n" + ",\n".join(dumps(row) for row in rows) + "\n]\n"
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)
    return len(rows)
