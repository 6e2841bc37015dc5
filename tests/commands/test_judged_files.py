"""The judging commands read questions and answers the same way: `eval audit --experiments` takes FastChat's
model_answer files like `judge pairwise` does (before, it read raw rows and ended in `KeyError: 'model'`), and
answers that miss the question file are said (none matching stops the command before any judge call)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatrecipe.cli import app
from tests.servers import fault_injecting_app, running

FASTCHAT = Path(__file__).parents[1] / "data" / "fixtures" / "fastchat"


def test_audit_experiments_take_fastchat_answer_files(tmp_path, monkeypatch):
    judge = fault_injecting_app(lambda body, n: ("ok", "Assistant A is better. [[A]]"))
    with running(judge) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "x")
        result = CliRunner().invoke(app, [
            "eval", "audit", "--experiments", "--judge", "openai:gpt-4", "--questions",
            str(FASTCHAT / "question.jsonl"), "--answers-a", str(FASTCHAT / "model_answer" / "vicuna-7b-v1.3.jsonl"),
            "--answers-b", str(FASTCHAT / "model_answer" / "llama-13b.jsonl"), "-o", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    found = json.loads((tmp_path / "experiments.json").read_text())
    assert {"debiasing", "injection"} <= set(found)
    judged = [json.loads(line) for label in ("standard", "debiased")
              for line in (tmp_path / f"audit-{label}.jsonl").read_text().splitlines()]
    assert judged and {(j["model_a"], j["model_b"]) for j in judged} == {("vicuna-7b-v1.3", "llama-13b")}


def test_answers_to_another_question_file_are_said_and_judge_nothing(tmp_path):
    # AlpacaEval outputs judged against FastChat's MT-Bench questions share no question: before, "0 judgments,
    # 0 failed" and exit 0; now the stray answers are counted and the command fails before any judge call
    result = CliRunner().invoke(app, [
        "judge", "pairwise", "--judge", "openai:never-called", "--questions", str(FASTCHAT / "question.jsonl"),
        "--answers-a", str(FASTCHAT.parent / "alpaca_eval" / "model_outputs.json"),
        "--answers-b", str(FASTCHAT / "model_answer" / "llama-13b.jsonl"), "-o", str(tmp_path / "j.jsonl")])
    assert result.exit_code == 1, result.output
    assert "answers in --answers-a answer no question of --questions" in result.output
    assert "nothing to judge" in result.output and not (tmp_path / "j.jsonl").exists()


def test_questions_without_an_answer_are_counted(tmp_path, monkeypatch):
    answers = tmp_path / "vicuna-7b-v1.3.jsonl"
    answers.write_text((FASTCHAT / "model_answer" / "vicuna-7b-v1.3.jsonl").read_text().splitlines()[0] + "\n")
    judge = fault_injecting_app(lambda body, n: ("ok", "Rating: [[6]]"))
    with running(judge) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "x")
        result = CliRunner().invoke(app, ["judge", "single", "--judge", "openai:gpt-4", "--questions",
                                          str(FASTCHAT / "question.jsonl"), "--answers", str(answers), "-o",
                                          str(tmp_path / "j.jsonl")])
    assert result.exit_code == 0, result.output
    asked = len((FASTCHAT / "question.jsonl").read_text().splitlines())
    assert f"{asked - 1} of {asked} questions have no answer in --answers" in result.output
