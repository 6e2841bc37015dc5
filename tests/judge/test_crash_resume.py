"""SIGKILL in the middle of judging through an endpoint, then the same command again: every answer the judge
sent before the kill is kept (cache and judgment file, as it arrives), none is asked for twice, and the output
holds exactly one judgment per (question, turn, order, pair)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from chatrecipe.data.records import read_jsonl
from tests.kill_rerun import kill_then_rerun

QUESTIONS = [{"question_id": i, "category": "writing", "turns": [f"Write line {i}."]} for i in range(5)] + \
            [{"question_id": 10 + i, "category": "roleplay", "turns": [f"Play part {i}.", "Now shorter."]}
             for i in range(2)]


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _answers(tmp_path, model):
    return _write(tmp_path / f"{model}.jsonl", [{"question_id": q["question_id"], "model": model,
                                                 "turns": [f"{model} says {t}" for t in q["turns"]]}
                                                for q in QUESTIONS])


@pytest.mark.slow
def test_pairwise_judging_killed_mid_run_pays_nothing_twice(tmp_path):
    questions, a, b = _write(tmp_path / "q.jsonl", QUESTIONS), _answers(tmp_path, "tuned"), _answers(tmp_path, "base")
    out = tmp_path / "judged" / "pairwise.jsonl"
    expected = (5 + 2 * 2) * 2  # one- and two-turn questions, both orders
    before, sent, rerun = kill_then_rerun(
        lambda body: "Assistant A is better. [[A]]",
        lambda url: ["judge", "pairwise", "--judge", "openai:judge", "--questions", str(questions),
                     "--answers-a", str(a), "--answers-b", str(b), "-o", str(out)],
        tmp_path, kill_after=expected // 3)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [body for body, n in sent.items() if n > 1] == []  # no answer paid for twice
    assert sum(sent.values()) == expected and before == expected // 3  # every one paid once, a third before the kill
    rows = read_jsonl(out)
    per_key = Counter((r["question_id"], r["turn"], r["order"], r["model_a"], r["model_b"]) for r in rows)
    assert len(per_key) == expected and set(per_key.values()) == {1}
    assert {r["winner"] for r in rows} == {"model_a", "model_b"}  # [[A]] in both orders: order mapped back
    assert all(r["error"] is None for r in rows)


@pytest.mark.slow
def test_single_grading_killed_mid_run_pays_nothing_twice(tmp_path):
    questions, answers = _write(tmp_path / "q.jsonl", QUESTIONS), _answers(tmp_path, "tuned")
    out = tmp_path / "judged" / "single.jsonl"
    expected = 5 + 2 * 2
    before, sent, rerun = kill_then_rerun(
        lambda body: "Clear and short. Rating: [[7]]",
        lambda url: ["judge", "single", "--judge", "openai:judge", "--questions", str(questions),
                     "--answers", str(answers), "-o", str(out)],
        tmp_path, kill_after=expected // 3)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [body for body, n in sent.items() if n > 1] == []
    assert sum(sent.values()) == expected and before == expected // 3
    rows = read_jsonl(out)
    per_key = Counter((r["question_id"], r["turn"], r["model"]) for r in rows)
    assert len(per_key) == expected and set(per_key.values()) == {1}
    assert {r["score"] for r in rows} == {7.0}


@pytest.mark.slow
def test_a_judgment_cut_mid_line_by_the_kill_is_redone_from_the_cache(tmp_path):
    """A kill during the append leaves half a line; the rerun removes it, judges that item again from the cache
    (the answer is not paid twice) and appends on a fresh line."""
    questions, answers = _write(tmp_path / "q.jsonl", QUESTIONS), _answers(tmp_path, "tuned")
    out = tmp_path / "judged" / "single.jsonl"
    expected = 5 + 2 * 2

    def cut_last_line():
        text = out.read_bytes()
        assert text.count(b"\n") == expected // 3  # one line per answer received before the kill
        last = text.rstrip(b"\n").rfind(b"\n") + 1
        out.write_bytes(text[:last + (len(text) - last) // 2])

    before, sent, rerun = kill_then_rerun(
        lambda body: "Clear and short. Rating: [[7]]",
        lambda url: ["judge", "single", "--judge", "openai:judge", "--questions", str(questions),
                     "--answers", str(answers), "-o", str(out)],
        tmp_path, kill_after=expected // 3, after_kill=cut_last_line)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "removed a half-written last line" in rerun.stderr
    assert [body for body, n in sent.items() if n > 1] == [] and sum(sent.values()) == expected
    rows = read_jsonl(out)
    per_key = Counter((r["question_id"], r["turn"], r["model"]) for r in rows)
    assert len(per_key) == expected and set(per_key.values()) == {1}
