"""The shipped starter set: valid records, the promised counts and spreads, and no overlap with the eval questions."""

from __future__ import annotations

from collections import Counter

from chatrecipe.data.decontaminate import decontaminate
from chatrecipe.data.records import load_records
from chatrecipe.data.resources import resource_path
from chatrecipe.data.schema import CATEGORIES


def load(ref, kind):
    result = load_records(resource_path(ref), kind)
    assert result.rejected == []
    return result.records


def test_sft_set():
    rows = load("starter:sft.jsonl", "conversation")
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows)
    counts = Counter(r["category"] for r in rows)
    assert set(CATEGORIES) - {"other"} <= set(counts)
    assert sum(1 for r in rows if sum(m["role"] == "user" for m in r["messages"]) > 1) >= 20
    lengths = [len(r["messages"][-1]["content"].split()) for r in rows]
    assert min(lengths) <= 2 and max(lengths) >= 150  # one-word labels to long stories


def test_preference_set():
    rows = load("starter:preferences.jsonl", "preference")
    assert len(rows) >= 80
    assert sum(1 for r in rows if len(r["prompt"]) > 1) >= 25
    assert all(r["scale"] == "llama2-4" and r["rating"] in (1, 2, 3, 4) for r in rows)
    assert all(r["margin"] == {1: 3, 2: 2, 3: 1, 4: 0}[r["rating"]] for r in rows)
    longer_rejected = sum(len(r["rejected"][0]["content"]) > len(r["chosen"][0]["content"]) for r in rows)
    assert longer_rejected >= 15  # length alone must not solve the set


def test_eval_questions_and_no_contamination():
    questions = load("questions:chatrecipe-eval.jsonl", "question")
    assert len(questions) >= 40 and sum(len(q["turns"]) == 2 for q in questions) >= 10
    for q in questions:
        if q["category"] in ("math", "reasoning", "coding"):
            assert q["reference"] and len(q["reference"]) == len(q["turns"])
    training = load("starter:sft.jsonl", "conversation") + load("starter:preferences.jsonl", "preference")
    clean, report = decontaminate(training, [questions], n=13)
    assert report == [] and len(clean) == len(training)
