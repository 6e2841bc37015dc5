"""Pairwise judging, MT-Bench style: both answer orders by default; conflicting verdicts become a tie.

Run as: `chatrecipe judge pairwise --judge M --questions Q.jsonl --answers-a sft.jsonl --answers-b base.jsonl -o out.jsonl`.

Judges prefer the first position (the recipe's GPT-4 quirk), so each pair is shown as (A, B) and as (B, A). A
record's `winner` always names the real models (`model_a` is the first model given), whatever the order shown.
"""

from __future__ import annotations

from pathlib import Path

from chatrecipe.backends.base import Backend, GenerationParams
from chatrecipe.judge.batch import judge_items
from chatrecipe.judge.prompts import load_prompt, prompt_for, question_hash
from chatrecipe.judge.verdicts import parse_pairwise

SWAP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
PREFILL = "Verdict: [["  # with prefill=True the judge's reply starts here (small local judges)


def _values(question: dict, turn: int, shown_a: list[str], shown_b: list[str]) -> dict:
    if turn == 1:
        values = {"question": question["turns"][0], "answer_a": shown_a[0], "answer_b": shown_b[0]}
    else:
        values = {"question_1": question["turns"][0], "question_2": question["turns"][1],
                  "answer_a_1": shown_a[0], "answer_a_2": shown_a[1], "answer_b_1": shown_b[0],
                  "answer_b_2": shown_b[1]}
    if question.get("reference"):
        values["reference"] = question["reference"][turn - 1]
    return values


def judge_pairwise(judge: Backend, questions: list[dict], answers_a: list[dict], answers_b: list[dict],
                   output: str | Path, *, both_orders: bool = True, prompt: str | None = None, repeats: int = 1,
                   params: GenerationParams | None = None, prefill: bool = False) -> list[dict]:
    """Judgment records for every question both models answered, every turn, both orders, `repeats` times."""
    params = params or GenerationParams(max_new_tokens=256)
    by_a = {a["question_id"]: a for a in answers_a}
    by_b = {b["question_id"]: b for b in answers_b}
    model_a, model_b = answers_a[0]["model"], answers_b[0]["model"]
    items: dict[int, list] = {r: [] for r in range(repeats)}
    for question in questions:
        qid = question["question_id"]
        if qid not in by_a or qid not in by_b:
            continue
        for turn in range(1, min(len(question["turns"]), len(by_a[qid]["turns"]), len(by_b[qid]["turns"])) + 1):
            template = load_prompt(prompt_for("pairwise", question.get("category"), turn,
                                              bool(question.get("reference")), prompt))
            for order in ("ab", "ba") if both_orders else ("ab",):
                shown = (by_a[qid]["turns"], by_b[qid]["turns"])
                shown_a, shown_b = shown if order == "ab" else shown[::-1]
                messages = template.render(**_values(question, turn, shown_a, shown_b))
                for repeat in range(repeats):
                    fields = {"question_id": qid, "kind": "pairwise", "model_a": model_a, "model_b": model_b,
                              "order": order, "turn": turn, "repeat": repeat, "category": question.get("category"),
                              "prompt": template.name, "prompt_hash": template.hash,
                              "question_hash": question_hash(question)}
                    key = ("pairwise", qid, turn, order, repeat, model_a, model_b, template.hash)
                    items[repeat].append((key, messages, fields))
    return [j for repeat, batch in items.items()
            for j in judge_items(judge, batch, Path(output), parse=_parse, params=repeat_params(params, repeat, repeats),
                                 label=f"pairwise {model_a} vs {model_b}",
                                 prefill=PREFILL if prefill else None)]


def repeat_params(params: GenerationParams, repeat: int, repeats: int) -> GenerationParams:
    """Repeats sample (temperature 0.7 unless set) with their own seed, so each is a fresh judgment, not a cache hit."""
    if repeats <= 1:
        return params
    return GenerationParams(max_new_tokens=params.max_new_tokens, temperature=params.temperature or 0.7,
                            top_p=params.top_p, stop=params.stop, seed=repeat)


def _parse(text: str, fields: dict) -> tuple[dict, str | None]:
    shown = parse_pairwise(text)
    if shown is None:
        return {"winner": None}, "unparseable verdict: no single [[A]], [[B]] or [[C]] found"
    return {"winner": shown if fields["order"] == "ab" else SWAP[shown]}, None


def combine_orders(judgments: list[dict]) -> tuple[list[dict], dict]:
    """One verdict per (question, turn, repeat, pair) from its two orders: agreeing verdicts stand, conflicting
    ones become a tie (MT-Bench's rule). Returns the combined records and the position-consistency statistics.

    The judge is part of a game's key: two judges' files read together (FastChat's gpt-4_pair.jsonl beside
    claude-v1_pair.jsonl) are two verdicts per item, not one judge's orders overwritten by the other's."""
    groups: dict[tuple, dict] = {}
    for j in judgments:
        key = (j["question_id"], j.get("turn", 1), j.get("repeat", 0), j["model_a"], j["model_b"], j.get("judge"))
        groups.setdefault(key, {})[j.get("order") or "ab"] = j  # order unknown (AlpacaEval): one verdict
    combined, consistent, compared, failed = [], 0, 0, 0
    for key, orders in groups.items():
        ab, ba = orders.get("ab"), orders.get("ba")
        present = [j for j in (ab, ba) if j is not None]
        base = {k: present[0].get(k) for k in ("question_id", "turn", "repeat", "model_a", "model_b", "category",
                                               "judge")}
        if any(j.get("error") for j in present):
            failed += 1
            combined.append({**base, "winner": None, "error": "a judgment in this pair failed", "consistent": None})
            continue
        if ab and ba:
            compared += 1
            agree = ab["winner"] == ba["winner"]
            consistent += agree
            combined.append({**base, "winner": ab["winner"] if agree else "tie", "error": None, "consistent": agree})
        else:
            combined.append({**base, "winner": present[0]["winner"], "error": None, "consistent": None})
    stats = {"pairs": len(groups), "both_orders": compared, "consistent": consistent, "failed": failed,
             "consistency": consistent / compared if compared else None}
    return combined, stats
