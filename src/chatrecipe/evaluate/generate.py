"""Answer a question file (MT-Bench format) with one model, turn by turn, resumably.

Run as: `chatrecipe generate --model runs/demo/sft/final --questions questions.jsonl -o answers.jsonl`.

A two-turn question is answered as MT-Bench does: the second user turn follows the model's *own* first answer.
All first turns go out as one batch, then all second turns, so batching survives multi-turn questions.
Answers already in the output file are kept, so a crashed run continues where it stopped; each is written as
soon as it is complete, not at the end. A question whose request failed is kept with its `error` (judges refuse
it, and a rerun keeps it, as failed judgments are kept) and its later turns are not asked: they would follow an
answer that does not exist.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatrecipe.backends.base import Backend, GenerationParams
from chatrecipe.backends.redact import redact
from chatrecipe.data.resumable import append_jsonl, read_appended
from chatrecipe.progress import progress_bar


def generate_answers(backend: Backend, questions: list[dict], output: str | Path,
                     params: GenerationParams | None = None) -> list[dict]:
    """Answer records (question_id, model, turns, generator) for every question; resumes from `output`.

    A question's record is appended the moment its last turn is answered (the backend's `on_result`), and every
    turn's answer is in the backend's cache as it arrives, so a killed run asks again only for what never came back.
    """
    params = params or GenerationParams()
    output = Path(output)
    done = {a["question_id"]: a for a in read_appended(output)}
    todo = [q for q in questions if q["question_id"] not in done]
    if todo:
        histories = {q["question_id"]: [] for q in todo}
        texts: dict = {q["question_id"]: [] for q in todo}
        errors: dict = {q["question_id"]: [] for q in todo}
        settings = {**redact(backend.describe()), "params": params.to_dict(), "date": time.strftime("%Y-%m-%d")}
        settings.pop("chat_template", None)

        def answered(q: dict, turn: int, result) -> None:
            qid = q["question_id"]
            text = result.text if result.ok else ""
            if not result.ok:
                errors[qid].append(f"turn {turn + 1}: {result.error}")
            texts[qid].append(text)
            histories[qid].append({"role": "assistant", "content": text})
            if turn == len(q["turns"]) - 1 or errors[qid]:  # complete (or failed): keep it now
                record = {"question_id": qid, "model": backend.model, "turns": texts[qid], "generator": settings,
                          "error": "; ".join(errors[qid]) or None}
                if q.get("instruction"):  # AlpacaEval's: its outputs file is laid out by instruction, any run later
                    record["instruction"] = q["instruction"]
                append_jsonl(output, record)
                done[qid] = record

        with progress_bar(f"answers by {backend.model}", sum(len(q["turns"]) for q in todo)) as advance:
            for turn in range(max(len(q["turns"]) for q in todo)):
                asked = [q for q in todo if turn < len(q["turns"]) and q["question_id"] not in done]
                advance(sum(1 for q in todo if turn < len(q["turns"]) and q["question_id"] in done))  # not asked
                if not asked:
                    continue
                for q in asked:
                    histories[q["question_id"]].append({"role": "user", "content": q["turns"][turn]})
                # every backend reports each answer through on_result as it comes (Backend.chat's contract)
                backend.chat([list(histories[q["question_id"]]) for q in asked], params, progress=advance,
                             on_result=lambda i, result, asked=asked, turn=turn: answered(asked[i], turn, result))
    return [done[q["question_id"]] for q in questions if q["question_id"] in done]
