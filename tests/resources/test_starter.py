"""The shipped starter set: valid records, the promised counts and spreads, and no overlap with the eval questions."""

from __future__ import annotations

import re
from collections import Counter

from chatrecipe.data.decontaminate import decontaminate
from chatrecipe.data.records import load_records
from chatrecipe.data.resources import resource_path
from chatrecipe.data.schema import CATEGORIES

MT_BENCH_CATEGORIES = {"writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"}
LLAMA2_MARGIN = {1: 3, 2: 2, 3: 1, 4: 0}


def load(ref, kind):
    result = load_records(resource_path(ref), kind)
    assert result.rejected == []
    return result.records


def user_turns(messages):
    return sum(m["role"] == "user" for m in messages)


def test_sft_set():
    rows = load("starter:sft.jsonl", "conversation")
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows)
    assert all(r["source"] == "chatrecipe-starter" for r in rows)
    counts = Counter(r["category"] for r in rows)
    assert set(CATEGORIES) <= set(counts)  # every category, `other` included
    assert counts.most_common(1)[0][0] == "generation"  # the InstructGPT/Surge lean
    multi = [user_turns(r["messages"]) for r in rows if user_turns(r["messages"]) > 1]
    assert len(multi) >= 20 and max(multi) <= 4
    assert sum(r["messages"][0]["role"] == "system" for r in rows) >= 5
    words = [len(r["messages"][-1]["content"].split()) for r in rows]
    assert sum(w <= 2 for w in words) >= 10  # one-word labels and numbers...
    assert sum(w >= 300 for w in words) >= 3  # ...up to long stories and rewrites


def test_preference_set():
    rows = load("starter:preferences.jsonl", "preference")
    assert len(rows) >= 80 and len({r["id"] for r in rows}) == len(rows)
    assert all(r["annotator"] == "chatrecipe-author" and r["source"] == "chatrecipe-starter" for r in rows)
    assert sum(1 for r in rows if any(m["role"] == "assistant" for m in r["prompt"])) >= 25
    assert all(r["scale"] == "llama2-4" and r["margin"] == LLAMA2_MARGIN[r["rating"]] for r in rows)
    assert set(Counter(r["rating"] for r in rows)) == {1, 2, 3, 4}
    longer_rejected = sum(len(r["rejected"][0]["content"]) > len(r["chosen"][0]["content"]) for r in rows)
    assert longer_rejected >= 15  # length alone must not solve the set


def test_eval_questions_and_no_contamination():
    questions = load("questions:chatrecipe-eval.jsonl", "question")
    assert [q["question_id"] for q in questions] == list(range(1, len(questions) + 1))
    assert len(questions) >= 40 and sum(len(q["turns"]) == 2 for q in questions) >= 10
    for q in questions:
        assert q["category"] in MT_BENCH_CATEGORIES and q["task_category"] in CATEGORIES
        if q["category"] in ("math", "reasoning", "coding"):
            assert q["reference"] and len(q["reference"]) == len(q["turns"])
        else:
            assert q["reference"] is None
    training = load("starter:sft.jsonl", "conversation") + load("starter:preferences.jsonl", "preference")
    result = decontaminate(training, [questions], n=13)
    assert result.matches == [] and len(result.clean) == len(training)
    # Turn by turn too: a turn shorter than 13 words (most of them) is then matched whole, which the joined
    # turns above would miss (its n-grams would span the next turn).
    turns = [{"question_id": f"{q['question_id']}.{i}", "turns": [turn]}
             for q in questions for i, turn in enumerate(q["turns"])]
    assert decontaminate(training, [turns], n=13).matches == []
    planted = {"messages": [{"role": "user", "content": f"Hi! {turns[0]['turns'][0]}"},
                            {"role": "assistant", "content": "Sure."}]}
    assert decontaminate([planted], [turns], n=13).matches  # the check can fail


def test_readme_counts_match_the_files():
    readme = resource_path("starter:README.md").read_text(encoding="utf-8")
    sft = load("starter:sft.jsonl", "conversation")
    pairs = load("starter:preferences.jsonl", "preference")
    questions = load("questions:chatrecipe-eval.jsonl", "question")
    assert re.search(rf"`sft.jsonl` — {len(sft)} conversation records", readme)
    assert re.search(rf"`preferences.jsonl` — {len(pairs)} preference pairs", readme)
    assert re.search(rf"chatrecipe-eval.jsonl` — {len(questions)} held-out questions", readme)
    for category, n in Counter(r["category"] for r in sft).items():
        assert f"| {category} | {n} |" in readme
    for rating, n in Counter(r["rating"] for r in pairs).items():
        assert re.search(rf"\| {rating} \| [^|]+ \| {LLAMA2_MARGIN[rating]} \| {n} \|", readme)
