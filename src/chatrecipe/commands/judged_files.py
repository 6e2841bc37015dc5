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


def check_answered(questions: list[dict], answers: dict[str, list[dict]]) -> None:
    """Say which answers have no question and which questions lack an answer (they are not judged), and stop
    before any judge call when no question is answered by every answer file: nothing to judge is not a success."""
    asked = {q["question_id"] for q in questions}
    for flag, records in answers.items():
        stray = [str(r["question_id"]) for r in records if r["question_id"] not in asked]
        if stray:
            warn(f"{len(stray)} of {len(records)} answers in {flag} answer no question of --questions (e.g. "
                 f"{', '.join(stray[:3])}); they are not judged")
    answered = set.intersection(*({r["question_id"] for r in records} for records in answers.values()))
    unanswered = [str(q["question_id"]) for q in questions if q["question_id"] not in answered]
    if len(unanswered) == len(questions):
        fail(f"no question of --questions is answered in {' and '.join(answers)}: nothing to judge (do the answers "
             "come from this question file?)", 1)
    if unanswered:
        warn(f"{len(unanswered)} of {len(questions)} questions have no answer in {' and '.join(answers)} (e.g. "
             f"{', '.join(unanswered[:3])}); they are not judged")
