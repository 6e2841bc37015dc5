"""What the judging commands read (`judge single | pairwise`, `eval audit --experiments`): question files and one
model's answers per file, in chatrecipe's, FastChat's or AlpacaEval's layout, each problem said before any judge
is called."""

from __future__ import annotations

from pathlib import Path

from chatrecipe.commands.messages import fail, show_rejected, warn


def load_input(path: Path, kind: str) -> list[dict]:
    """The valid records of one file (rejected rows listed by file, line and field); none at all stops the command."""
    from chatrecipe.data.records import load_records

    result = load_records(path, kind)  # FastChat and AlpacaEval files too (data/eval_formats)
    show_rejected(result.rejected)  # names the field: "missing; add it to the record" alone did not
    if not result.records:
        fail(f"no valid {kind} records in {path}", 1)
    return result.records


def one_models_answers(path: Path, flag: str) -> list[dict]:
    """One model's answers: a file with several models' (two FastChat files run together, an AlpacaEval
    annotations file, which holds the reference's outputs beside the model's) would be judged under the first
    model's name, so it is refused with the models it holds; an answer given twice is judged once, said."""
    from collections import Counter

    records = load_input(path, "answer")
    models = Counter(r["model"] for r in records)
    if len(models) > 1:
        held = ", ".join(f"{model} ({n})" for model, n in models.items())
        fail(f"{flag} {path} holds answers of {len(models)} models: {held}; give one model's answers per file "
             "(FastChat: model_answer/<model>.jsonl; AlpacaEval: that model's model_outputs.json)")
    twice = [str(qid) for qid, n in Counter(r["question_id"] for r in records).items() if n > 1]
    if twice:
        warn(f"{path}: {len(twice)} question(s) answered more than once ({', '.join(twice[:5])}"
             f"{' ...' if len(twice) > 5 else ''}); the last answer in the file is judged, as FastChat does")
    return records
