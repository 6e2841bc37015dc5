"""Task categories on real-shaped chat data: the real-world multi-turn held-out prompts (>= 80%, with per-category
Wilson intervals), HH-RLHF and OpenAssistant dialogs labelled by their first user turn, prompts / pairs /
MT-Bench questions accepted as input, and records without a category labelled on demand (classify_missing)."""

from __future__ import annotations

import json
from pathlib import Path

from chatrecipe.data.classify import (Prediction, classify_missing, classify_records, evaluate,
                                      is_unlabelled, request_text)
from chatrecipe.data.convert import convert
from chatrecipe.data.requests import load_requests

FIXTURES = Path(__file__).parent / "fixtures"


def test_realworld_multiturn_heldout_meets_the_goal(classifier):
    report = evaluate(classifier, "classify:heldout-realworld.jsonl")
    assert report["n"] == 192 and report["failed"] == 0
    assert report["accuracy"] >= 0.80, report["per_category"]
    rows = {row["category"]: row for row in report["per_category"]}
    assert len(rows) == 12 and all(row["n"] == 16 for row in rows.values())
    assert sum(row["correct"] for row in rows.values()) == report["correct"]
    assert all(row["recall"] == round(row["correct"] / 16, 3) for row in rows.values())


def test_clean_heldout_still_meets_the_goal(classifier):
    assert evaluate(classifier)["accuracy"] >= 0.80


def test_hh_dialogs_are_labelled_by_their_first_turn(classifier):
    pairs = convert(FIXTURES / "hh-rlhf-sample.jsonl").records
    labelled = {r["prompt"][0]["content"]: r["category"] for r in classify_records(pairs, classifier).records}
    # the board-game dialog ends with "I like 1, 3, 4, 6, 7." (math, to a last-turn classifier)
    assert labelled["What are some good board games for a family game night?"] == "brainstorming"
    assert labelled["Why do scientists not believe in God?"] in ("open_qa", "chat")
    assert labelled["How do I kill a Python process that's stuck?"] == "coding"
    assert labelled["Can you help me write a short poem about the sea for my daughter?"] == "generation"
    [alone] = classifier.predict(["I like 1, 3, 4, 6, 7."])
    assert alone.category in ("chat", "other", "classification"), alone


def test_oasst_threads_and_pairs_get_the_tree_task(classifier):
    records = convert(FIXTURES / "oasst1-sample.jsonl").records
    bakery = [r for r in records if request_text(r).startswith("What is a good name for a small neighbourhood")]
    assert len(bakery) >= 4  # the thread and its ranked pairs, one of them three turns deep
    assert {r["category"] for r in classify_records(bakery, classifier).records} == {"brainstorming"}


def test_load_requests_takes_prompts_pairs_and_questions(tmp_path):
    rows = [{"id": "p1", "messages": [{"role": "user", "content": "Write a haiku about tea"}]},
            {"id": "p2", "messages": [{"role": "system", "content": "You are terse."},
                                      {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                                      {"role": "user", "content": "what is 2+2"}]},
            {"id": "p3", "prompt": "Summarize this: the meeting moved to 3pm."},
            {"id": "p4", "prompt": [{"role": "user", "content": "q"}], "chosen": "a", "rejected": "b"},
            {"id": "bad", "messages": [{"role": "assistant", "content": "no user here"}]}]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = load_requests(prompts)
    assert [r["id"] for r in result.records] == ["p1", "p2", "p3", "p4"]
    assert result.records[2]["prompt"] == [{"role": "user", "content": "Summarize this: the meeting moved to 3pm."}]
    [bad] = result.rejected
    assert (bad["line"], bad["field"]) == (5, "messages") and "no user turn" in bad["reason"]
    questions = tmp_path / "question.jsonl"
    questions.write_text(json.dumps({"question_id": 81, "category": "writing", "turns": ["Compose a blog post.",
                                                                                         "Rewrite it."]}) + "\n")
    [question] = load_requests(questions).records
    assert request_text(question) == "Compose a blog post."
    # any public format still goes through convert
    assert load_requests(FIXTURES / "hh-rlhf-sample.jsonl").format == "hh-rlhf"


class _Counting:
    source = "counting"

    def __init__(self):
        self.seen = []

    def predict(self, texts, progress=None):
        self.seen += list(texts)
        return [Prediction("chat", 0.5) for _ in texts]


def test_classify_missing_labels_only_unlabelled_records():
    records = [{"id": "a", "messages": [{"role": "user", "content": "hi"}], "category": "other"},
               {"id": "b", "messages": [{"role": "user", "content": "2+2?"}], "category": "math"},
               {"id": "c", "messages": [{"role": "user", "content": "zzz"}], "category": "other",
                "metadata": {"category_source": "embeddings:x"}}]
    assert [is_unlabelled(r) for r in records] == [True, False, False]
    counting = _Counting()
    result = classify_missing(records, counting)
    assert counting.seen == ["hi"] and [r["category"] for r in result.records] == ["chat", "math", "other"]
    assert result.counts == {"records": 3, "classified": 1, "failed": 0, "kept": 2, "unlabelled": 1}
    again = classify_missing(result.records, _Counting())  # a labelled set is left as it is, no classifier run
    assert again.counts["unlabelled"] == 0 and again.records == result.records


def test_cli_classifies_a_prompt_file(tmp_path, monkeypatch, classifier, classify_home):
    from typer.testing import CliRunner

    from chatrecipe.cli import app
    from chatrecipe.data.records import read_jsonl

    monkeypatch.setenv("CHATRECIPE_HOME", str(classify_home))
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"id": "a", "messages": [{"role": "user", "content": "hey can you write me a limerick about my cat"}]},
            {"id": "b", "messages": [{"role": "user", "content": "What is 12% of 250?"},
                                     {"role": "assistant", "content": "30"}, {"role": "user", "content": "thanks!"}]}]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "labelled.jsonl"
    result = CliRunner().invoke(app, ["data", "classify", str(prompts), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 classified" in result.output and "rejected" not in result.output
    assert [r["category"] for r in read_jsonl(out)] == ["generation", "math"]
