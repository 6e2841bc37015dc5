"""SIGKILL in the middle of `chatrecipe generate` through an endpoint, then the same command again: each turn's
answer is cached as it arrives and each question's record is written when its last turn is in, so the rerun
asks only for what never came back and the answer file holds one complete record per question."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from chatrecipe.backends.base import ChatResult, ScriptedBackend
from chatrecipe.backends.cache import CachedBackend
from chatrecipe.data.records import read_jsonl
from tests.kill_rerun import kill_then_rerun


def _reply(body: dict) -> str:
    return f"answer to {body['messages'][-1]['content']}"


@pytest.mark.slow
def test_generate_killed_mid_run_pays_nothing_twice(tmp_path):
    questions = [{"question_id": i, "category": "writing", "turns": [f"Question {i}?"]} for i in range(6)] + \
                [{"question_id": 10 + i, "category": "roleplay", "turns": [f"Opening {i}.", f"Follow-up {i}."]}
                 for i in range(3)]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in questions))
    out = tmp_path / "answers" / "gen.jsonl"
    expected = 6 + 3 * 2  # requests: one per turn
    before, sent, rerun = kill_then_rerun(
        _reply, lambda url: ["generate", "--model", "openai:gen", "--questions", str(path), "-o", str(out)],
        tmp_path, kill_after=expected // 3)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [body for body, n in sent.items() if n > 1] == []  # no answer paid for twice
    assert sum(sent.values()) == expected and before == expected // 3
    rows = read_jsonl(out)
    assert sorted(Counter(r["question_id"] for r in rows).values()) == [1] * len(questions)
    by_id = {r["question_id"]: r for r in rows}
    assert by_id[11]["turns"] == ["answer to Opening 1.", "answer to Follow-up 1."] and by_id[11]["error"] is None
    follow_up = next(json.loads(b) for b in sent if "Follow-up 1." in b)  # turn 2 went out on the model's turn 1
    assert [m["content"] for m in follow_up["messages"]] == ["Opening 1.", "answer to Opening 1.", "Follow-up 1."]


def test_cache_keeps_each_answer_the_moment_it_arrives(tmp_path):
    """When an answer is handed on, it is already on disk: a crash right after loses nothing received."""
    cached = CachedBackend(ScriptedBackend(lambda m: "ok " + m[-1]["content"], "m"), tmp_path / "cache")
    on_disk = []

    def arrived(index: int, result: ChatResult) -> None:
        on_disk.append(len(list((tmp_path / "cache").rglob("*.json"))))

    prompts = [[{"role": "user", "content": f"p{i}"}] for i in range(5)]
    cached.chat(prompts, on_result=arrived)
    assert on_disk == [1, 2, 3, 4, 5]  # before: all five were written only after the whole batch returned
    seen = []
    again = cached.chat(prompts, on_result=lambda i, r: seen.append((i, r.cached)))
    assert sorted(seen) == [(i, True) for i in range(5)] and all(r.cached for r in again)


def test_identical_requests_in_one_batch_are_sent_once(tmp_path):
    """Two models giving the same answer, or k samples without seeds, make identical judge prompts in one batch:
    one key, one answer, paid once (before, both went out: neither was in the cache yet)."""
    inner = ScriptedBackend(lambda m: "Rating: [[7]]", "judge")
    cached = CachedBackend(inner, tmp_path / "cache")
    prompt = [{"role": "user", "content": "grade this"}]
    results = cached.chat([prompt, [{"role": "user", "content": "other"}], prompt])
    assert inner.calls == 2 and [r.text for r in results] == ["Rating: [[7]]"] * 3
    assert results[2] is not results[0] and results[2].cached  # its own object: callers may edit a result
