"""`chatrecipe generate` when the endpoint fails some answers: it says so and exits non-zero, asks no later turn
of a failed question, a judge never grades an answer that was never made, and asking again pays only for what
failed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from chatrecipe.cli import app
from tests.servers import fault_injecting_app, running

QUESTIONS = [{"question_id": 1, "category": "writing", "turns": ["Write a haiku about rivers"]},
             {"question_id": 2, "category": "math", "turns": ["What is 2+2?", "And times 3?"]}]


def test_failed_answers_are_said_refused_by_judges_and_asked_again_from_the_cache(tmp_path, monkeypatch):
    """Before: with every request for question 2 refused, generate printed "2 answers in ..." and exited 0; the
    second turn was asked after an empty first answer, and `judge single` graded the empty text."""
    down = {"on": True}

    def script(body, attempt):
        asked = body["messages"][-1]["content"]
        if down["on"] and "2+2" in json.dumps(body["messages"]):
            return ("status", 400, {})  # not transient: fails at once, no retries
        if "Rating" in json.dumps(body["messages"]) or "rating" in json.dumps(body["messages"]):
            return ("ok", "Rating: [[6]]")
        return ("ok", "an answer to " + asked[:30])

    server = fault_injecting_app(script)
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    answers = tmp_path / "answers.jsonl"
    command = ["generate", "--model", "openai:gpt-test", "--questions", str(questions), "-o", str(answers)]
    with running(server) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        first = CliRunner().invoke(app, command)
        assert first.exit_code == 1, first.output
        assert "1 of 2 answers failed" in first.output and "HTTP 400" in first.output
        records = [json.loads(line) for line in answers.read_text().splitlines()]
        assert sorted((r["question_id"], bool(r["error"])) for r in records) == [(1, False), (2, True)]
        assert not any("times 3" in json.dumps(b["messages"]) for b in server.state.log)  # no turn 2 on nothing

        judged = CliRunner().invoke(app, ["judge", "single", "--judge", "openai:judge", "--questions", str(questions),
                                          "--answers", str(answers), "-o", str(tmp_path / "single.jsonl")])
        assert judged.exit_code == 0, judged.output
        grades = [json.loads(line) for line in (tmp_path / "single.jsonl").read_text().splitlines()]
        assert [g["question_id"] for g in grades] == [1]  # the failed answer is not graded
        assert "generation failed" in judged.output

        down["on"] = False
        asked_before = len(server.state.log)
        answers.unlink()  # as the message says: what came back is in the cache
        again = CliRunner().invoke(app, command)
        assert again.exit_code == 0, again.output
        records = [json.loads(line) for line in answers.read_text().splitlines()]
        assert sorted(r["question_id"] for r in records) == [1, 2] and not any(r["error"] for r in records)
        asked_again = server.state.log[asked_before:]
        assert len(asked_again) == 2 and all("2+2" in json.dumps(b["messages"]) for b in asked_again)
