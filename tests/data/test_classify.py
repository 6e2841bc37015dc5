"""Task classification: offline embeddings + logistic regression (accuracy on the held-out prompts, the cache keyed
by the training file), the LLM-judge path over a real HTTP endpoint (unparseable answers are failures), and
the rule that existing labels stay unless --overwrite."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from chatrecipe.cli import app
from chatrecipe.data.classify import (EmbeddingClassifier, Prediction, classify_records, evaluate, load_labelled,
                                      parse_category, request_parts, request_text)
from chatrecipe.data.records import RecordFileError, read_jsonl
from chatrecipe.data.resources import resource_path
from chatrecipe.data.schema import CATEGORIES

runner = CliRunner()


def test_request_text_is_the_first_user_turn_with_the_system_prompt():
    conversation = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"},
                                 {"role": "assistant", "content": "a"}, {"role": "user", "content": "second"},
                                 {"role": "assistant", "content": "b"}]}
    pair = {"prompt": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                       {"role": "user", "content": "q2"}], "chosen": "x", "rejected": "y"}
    assert request_parts(conversation) == ("be brief", "first")
    assert "first" in request_text(conversation) and "be brief" in request_text(conversation)
    assert request_text(pair) == "q1"  # the dialog's task, not its last follow-up
    assert request_text({"prompt": "just text"}) == "just text"
    assert request_text({"question_id": 1, "turns": ["t1", "t2"]}) == "t1"


def test_embeddings_are_unit_vectors_in_input_order(embedder):
    from chatrecipe.data.embeddings import Embedder

    texts = ["Write a poem about rain.", "What is 17 times 3?", "Write a poem about rain.",
             "Summarize this long article about the city council vote on bike lanes and parking."]
    exact = Embedder(precision="fp32")
    together = exact.encode(texts)
    alone = np.vstack([exact.encode([t]) for t in texts])
    assert together.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-4)  # length sorting and padding change nothing
    assert np.array_equal(together[0], together[2])
    assert together[0] @ together[1] < 0.5  # unrelated requests are not near-identical
    quantized = embedder.encode(texts)
    assert float(np.min(np.sum(quantized * together, axis=1))) > 0.9  # int8 keeps the direction (measured cosine 0.95-0.96)


def test_heldout_accuracy_meets_the_goal(classifier):
    report = evaluate(classifier)
    assert report["n"] == 216 and report["failed"] == 0
    assert report["accuracy"] >= 0.80, report["recall"]
    matrix = np.asarray(report["confusion"])
    assert matrix.sum() == 216 and np.trace(matrix) == round(report["accuracy"] * 216)


def test_heldout_never_in_training():
    train, _ = load_labelled("classify:train.jsonl")
    for name in ("classify:heldout.jsonl", "classify:heldout-realworld.jsonl"):
        heldout, _ = load_labelled(name)
        assert not {t.strip().lower() for t in train} & {t.strip().lower() for t in heldout}


def test_cache_is_keyed_by_training_file(embedder, tmp_path):
    rows = read_jsonl(resource_path("classify:train.jsonl"))[::4]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first = EmbeddingClassifier.fit(train, embedder, cache_dir=tmp_path / "cache")
    cached = list((tmp_path / "cache").glob("*.npz"))
    assert len(cached) == 1
    again = EmbeddingClassifier.fit(train, embedder, cache_dir=tmp_path / "cache")
    assert again.key == first.key
    texts = ["Translate this sentence into French: I like tea.", "Write a bash script that counts files."]
    assert [p.category for p in again.predict(texts)] == [p.category for p in first.predict(texts)]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows[:-1]))
    changed = EmbeddingClassifier.fit(train, embedder, cache_dir=tmp_path / "cache")
    assert changed.key != first.key and len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_bad_training_line_names_file_and_line(embedder, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text('{"prompt": "hi", "category": "chat"}\n{"prompt": "x", "category": "poetry"}\n')
    with pytest.raises(RecordFileError, match=r"train.jsonl:2: category 'poetry'"):
        EmbeddingClassifier.fit(train, embedder, cache_dir=tmp_path)


class _Fixed:
    source = "fixed"

    def predict(self, texts, progress=None):
        return [Prediction("coding", 0.9) for _ in texts]


def test_existing_labels_stay_unless_overwrite():
    records = [{"id": "a", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}],
                "category": "math"},
               {"id": "b", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}],
                "category": "other", "metadata": {"origin": "kept"}}]
    kept = classify_records(records, _Fixed())
    assert [r["category"] for r in kept.records] == ["math", "coding"]
    assert kept.records[1]["metadata"] == {"origin": "kept", "category_source": "fixed", "category_confidence": 0.9}
    assert kept.counts == {"records": 2, "classified": 1, "failed": 0, "kept": 1}
    assert records[1]["category"] == "other"  # inputs are not mutated
    overwritten = classify_records(records, _Fixed(), overwrite=True)
    assert [r["category"] for r in overwritten.records] == ["coding", "coding"]
    beside = classify_records(records, _Fixed(), field="predicted_category")
    assert [r["category"] for r in beside.records] == ["math", "other"]
    assert [r["predicted_category"] for r in beside.records] == ["coding", "coding"]


def test_parse_category():
    assert parse_category("It asks for code. [[coding]]") == "coding"
    assert parse_category("[[ Open QA ]]") == "open_qa"
    assert parse_category("math") == "math"
    assert parse_category("[[poetry]]") is None
    assert parse_category("[[math]] or maybe [[coding]]") is None
    assert parse_category("I would say it is about coding") is None
    assert parse_category(None) is None


def _judge_script(body, attempt):
    request = body["messages"][-1]["content"]
    if "function" in request:
        return ("ok", "This asks for code. [[coding]]")
    if "times" in request:
        return ("ok", "[[math]]")
    return ("ok", "Hard to say, perhaps chat or other.")


def test_judge_cli_counts_unparseable_answers_as_failures(tmp_path, monkeypatch):
    from tests.servers import fault_injecting_app, running

    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    data = tmp_path / "in.jsonl"
    rows = [{"id": "1", "messages": [{"role": "user", "content": "Write a Python function to add"},
                                      {"role": "assistant", "content": "def add(a, b): return a + b"}]},
            {"id": "2", "prompt": "What is 6 times 7?", "chosen": "42", "rejected": "41"},
            {"id": "3", "messages": [{"role": "user", "content": "hello there"},
                                     {"role": "assistant", "content": "hi"}]}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    app_ = fault_injecting_app(_judge_script)
    with running(app_) as url:
        result = runner.invoke(app, ["data", "classify", str(data), "-o", str(out), "--method", "judge",
                                     "--judge", "openai:judge-model", "--base-url", f"{url}/v1"])
    assert result.exit_code == 0, result.output
    assert "2 classified, 0 kept their category, 1 failed" in result.output
    labelled = {r["id"]: r for r in read_jsonl(out)}
    assert len(labelled) == 3  # the failed record is kept, not dropped
    assert labelled["1"]["category"] == "coding" and labelled["2"]["category"] == "math"
    assert labelled["3"]["category"] == "other" and "unparseable" in labelled["3"]["metadata"]["category_error"]
    assert labelled["1"]["metadata"]["category_source"].startswith("judge:openai:judge-model:")
    failures = read_jsonl(tmp_path / "out.classify-failures.jsonl")
    assert [f["id"] for f in failures] == ["3"] and failures[0]["raw"].startswith("Hard to say")
    sent = [body["messages"] for body in app_.state.log]  # concurrent requests: any order
    assert all(m[0]["role"] == "system" for m in sent)
    assert any(m[-1]["content"] == "<request>\nWrite a Python function to add\n</request>" for m in sent)


def test_cli_evaluate_and_label(tmp_path, monkeypatch, classifier, classify_home):
    monkeypatch.setenv("CHATRECIPE_HOME", str(classify_home))
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "Solve for x: 3x + 5 = 20."},
                                             {"role": "assistant", "content": "x = 5"}]}) + "\n")
    out = tmp_path / "labelled.jsonl"
    result = runner.invoke(app, ["data", "classify", str(data), "-o", str(out), "--evaluate",
                                 "--plots", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    assert "true \\ predicted" in result.output and "(95% Wilson)" in result.output
    for stem, n in (("heldout", 216), ("heldout-realworld", 192)):  # both held-out sets by default
        report = json.loads((tmp_path / "eval" / f"{stem}-eval.json").read_text())
        assert report["labels"][: len(CATEGORIES)] == list(CATEGORIES) and report["n"] == n
        assert report["accuracy_low"] < report["accuracy"] < report["accuracy_high"]
        assert all(row["low"] <= row["recall"] <= row["high"] for row in report["per_category"])
        assert f"accuracy: {report['accuracy']:.1%} [" in result.output
        assert (tmp_path / "eval" / f"{stem}-confusion.png").stat().st_size > 1000
    [record] = read_jsonl(out)
    assert record["category"] == "math" and 0 < record["metadata"]["category_confidence"] <= 1
    assert record["metadata"]["category_source"] == classifier.source  # the CLI found the fit in the cache


@pytest.mark.parametrize("rows", [
    [{"messages": [{"role": "user", "content": f"Question {i}?"}]} for i in range(3)],  # read here
    [{"conversations": [{"from": "human", "value": f"Question {i}?"}, {"from": "gpt", "value": "Yes."}]}
     for i in range(3)]])  # ShareGPT: read by convert
def test_requests_read_a_json_array_once(tmp_path, monkeypatch, rows):
    """A JSON array (like a Hub dataset) loads whole: the sniff's rows go on into the reading, not a second load."""
    from chatrecipe.data import records
    from chatrecipe.data.requests import load_requests

    loads = []
    real = records._iter_json
    monkeypatch.setattr(records, "_iter_json", lambda path: loads.append(path) or real(path))
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(rows))
    result = load_requests(path)
    assert len(result.records) == 3 and not result.rejected and loads == [path]
