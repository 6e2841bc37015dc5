"""`chatrecipe judge single | pairwise` take one model's answers per file: a file holding several models' answers
(two FastChat answer files run together, an AlpacaEval annotations file with the reference's outputs beside the
model's) is refused with the models it holds, instead of being judged under the first model's name."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatrecipe.cli import app

LC_V1 = Path(__file__).parents[1] / "evaluate" / "fixtures" / "alpaca_eval" / "lc_v1"
ANNOTATIONS = LC_V1 / "gamer" / "annotations.json"


def fastchat_answers(model: str, question_ids: list[int]) -> list[dict]:
    return [{"question_id": qid, "answer_id": f"{model}-{qid}", "model_id": model,
             "choices": [{"index": 0, "turns": [f"{model} on {qid}", f"{model} again"]}], "tstamp": 1.0}
            for qid in question_ids]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_two_models_in_one_answer_file_are_refused_not_mislabelled(tmp_path):
    questions = write_jsonl(tmp_path / "question.jsonl", [
        {"question_id": q, "category": "writing", "turns": [f"q{q}", f"q{q} again"]} for q in (81, 82)])
    both = write_jsonl(tmp_path / "both.jsonl", fastchat_answers("llama-13b", [81, 82])
                       + fastchat_answers("vicuna-13b", [81, 82]))
    one = write_jsonl(tmp_path / "vicuna-13b.jsonl", fastchat_answers("vicuna-13b", [81, 82]))
    out = tmp_path / "j.jsonl"
    single = CliRunner().invoke(app, ["judge", "single", "--judge", "openai:judge", "--answers", str(both),
                                      "--questions", str(questions), "-o", str(out)])
    assert single.exit_code == 2, single.output
    assert "holds answers of 2 models: llama-13b (2), vicuna-13b (2)" in single.output
    assert "Traceback" not in single.output and not out.exists()
    pairwise = CliRunner().invoke(app, ["judge", "pairwise", "--judge", "openai:judge", "--answers-a", str(one),
                                        "--answers-b", str(ANNOTATIONS), "--questions", str(questions), "-o",
                                        str(out)])
    assert pairwise.exit_code == 2, pairwise.output
    assert "--answers-b" in pairwise.output and "gpt4_1106_preview" in pairwise.output
    assert "gamer-7b" in pairwise.output and not out.exists()


def test_a_second_model_judged_into_a_fastchat_file_keeps_the_first(tmp_path, monkeypatch):
    # FastChat writes every model's grades into one model_judgment/gpt-4_single.jsonl; before, judging llama-13b
    # into it replaced vicuna-13b's rows (the resumable records kept both, the FastChat file only the last run)
    from tests.servers import fault_injecting_app, running

    questions = write_jsonl(tmp_path / "question.jsonl", [
        {"question_id": q, "category": "writing", "turns": [f"q{q}", f"q{q} again"]} for q in (81, 82)])
    out = tmp_path / "model_judgment" / "gpt-4_single.jsonl"
    app_ = fault_injecting_app(lambda body, n: ("ok", "Rating: [[7]]"))
    with running(app_) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "x")
        for model in ("vicuna-13b", "llama-13b"):
            answers = write_jsonl(tmp_path / f"{model}.jsonl", fastchat_answers(model, [81, 82]))
            result = CliRunner().invoke(app, ["judge", "single", "--judge", "openai:gpt-4", "--answers",
                                              str(answers), "--questions", str(questions), "-o", str(out),
                                              "--format", "fastchat"])
            assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["model"], r["question_id"], r["turn"]) for r in rows) == sorted(
        (m, q, t) for m in ("vicuna-13b", "llama-13b") for q in (81, 82) for t in (1, 2))
    assert {r["score"] for r in rows} == {7.0}


def test_a_model_compared_with_itself_is_refused_before_any_judge_call(tmp_path):
    # before: every verdict paid for, and "vicuna-13b vs vicuna-13b: 28 ties" from eval winrate
    questions = write_jsonl(tmp_path / "question.jsonl", [
        {"question_id": 81, "category": "writing", "turns": ["q81"]}])
    one = write_jsonl(tmp_path / "vicuna-13b.jsonl", fastchat_answers("vicuna-13b", [81]))
    result = CliRunner().invoke(app, ["judge", "pairwise", "--judge", "openai:never-called", "--answers-a", str(one),
                                      "--answers-b", str(one), "--questions", str(questions), "-o",
                                      str(tmp_path / "j.jsonl")])
    assert result.exit_code == 2 and "are both vicuna-13b's answers" in result.output
    assert not (tmp_path / "j.jsonl").exists()
