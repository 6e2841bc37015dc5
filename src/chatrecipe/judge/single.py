"""Single-answer grading, MT-Bench style: a 1-10 grade per answer and turn (reference-guided where one exists).

Run as: `chatrecipe judge single --judge M --questions Q.jsonl --answers sft.jsonl -o single.jsonl`.
"""

from __future__ import annotations

from pathlib import Path

from chatrecipe.backends.base import Backend, GenerationParams
from chatrecipe.judge.batch import judge_items
from chatrecipe.judge.pairwise import repeat_params
from chatrecipe.judge.prompts import load_prompt, prompt_for
from chatrecipe.judge.verdicts import parse_score

PREFILL = "Rating: [["  # with prefill=True the judge's reply starts here (small local judges)


def _values(question: dict, turn: int, answer: list[str]) -> dict:
    if turn == 1:
        values = {"question": question["turns"][0], "answer": answer[0]}
    else:
        values = {"question_1": question["turns"][0], "answer_1": answer[0], "question_2": question["turns"][1],
                  "answer_2": answer[1]}
    if question.get("reference"):
        values["reference"] = question["reference"][turn - 1]
    return values


def judge_single(judge: Backend, questions: list[dict], answers: list[dict], output: str | Path, *,
                 prompt: str | None = None, repeats: int = 1, params: GenerationParams | None = None,
                 prefill: bool = False) -> list[dict]:
    """Judgment records (kind single, score or error) for every answered question and turn."""
    params = params or GenerationParams(max_new_tokens=256)
    by_id = {a["question_id"]: a for a in answers}
    model = answers[0]["model"]
    items: dict[int, list] = {r: [] for r in range(repeats)}
    for question in questions:
        answer = by_id.get(question["question_id"])
        if answer is None:
            continue
        for turn in range(1, min(len(question["turns"]), len(answer["turns"])) + 1):
            template = load_prompt(prompt_for("single", question.get("category"), turn,
                                              bool(question.get("reference")), prompt))
            messages = template.render(**_values(question, turn, answer["turns"]))
            for repeat in range(repeats):
                fields = {"question_id": question["question_id"], "kind": "single", "model": model, "turn": turn,
                          "repeat": repeat, "category": question.get("category"), "prompt": template.name,
                          "prompt_hash": template.hash}
                items[repeat].append((("single", question["question_id"], turn, repeat, model, template.hash),
                                      messages, fields))
    return [j for repeat, batch in items.items()
            for j in judge_items(judge, batch, Path(output), parse=_parse,
                                 params=repeat_params(params, repeat, repeats), label=f"grades for {model}",
                                 prefill=PREFILL if prefill else None)]


def _parse(text: str, fields: dict) -> tuple[dict, str | None]:
    score = parse_score(text)
    if score is None:
        return {"score": None}, "unparseable grade: no single rating from 1 to 10 like [[7]] found"
    return {"score": score}, None
