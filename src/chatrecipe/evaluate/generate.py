"""Answer a question file (MT-Bench format) with one model, turn by turn, resumably.

Run as: `chatrecipe generate --model runs/demo/sft/final --questions questions.jsonl -o answers.jsonl`.

A two-turn question is answered as MT-Bench does: the second user turn follows the model's *own* first answer.
All first turns go out as one batch, then all second turns, so batching survives multi-turn questions.
Answers already in the output file are kept, so a crashed run continues where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatrecipe.backends.base import Backend, GenerationParams
from chatrecipe.data.records import append_jsonl, read_jsonl


def _progress(total: int, label: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # progress on stderr, so `--json` output on stdout stays machine-readable
    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False,
                        console=Console(stderr=True))
    task = progress.add_task(label, total=total)
    return progress, lambda n: progress.advance(task, n)


def generate_answers(backend: Backend, questions: list[dict], output: str | Path,
                     params: GenerationParams | None = None) -> list[dict]:
    """Answer records (question_id, model, turns, generator) for every question; resumes from `output`."""
    params = params or GenerationParams()
    output = Path(output)
    done = {a["question_id"]: a for a in read_jsonl(output)} if output.exists() else {}
    todo = [q for q in questions if q["question_id"] not in done]
    if todo:
        histories = {q["question_id"]: [] for q in todo}
        texts: dict = {q["question_id"]: [] for q in todo}
        errors: dict = {q["question_id"]: [] for q in todo}
        progress, advance = _progress(sum(len(q["turns"]) for q in todo), f"answers by {backend.model}")
        with progress:
            for turn in range(max(len(q["turns"]) for q in todo)):
                asked = [q for q in todo if turn < len(q["turns"])]
                for q in asked:
                    histories[q["question_id"]].append({"role": "user", "content": q["turns"][turn]})
                results = backend.chat([histories[q["question_id"]] for q in asked], params, progress=advance)
                for q, result in zip(asked, results):
                    text = result.text if result.ok else ""
                    if not result.ok:
                        errors[q["question_id"]].append(f"turn {turn + 1}: {result.error}")
                    texts[q["question_id"]].append(text)
                    histories[q["question_id"]].append({"role": "assistant", "content": text})
        settings = {**backend.describe(), "params": params.to_dict(), "date": time.strftime("%Y-%m-%d")}
        settings.pop("chat_template", None)
        for q in todo:
            record = {"question_id": q["question_id"], "model": backend.model, "turns": texts[q["question_id"]],
                      "generator": settings, "error": "; ".join(errors[q["question_id"]]) or None}
            append_jsonl(output, record)
            done[q["question_id"]] = record
    return [done[q["question_id"]] for q in questions if q["question_id"] in done]
