"""MT-Bench tables: FastChat llm_judge's published files read as they are, with show_result.py's numbers.

Expected values are computed by hand from the fixture files, following FastChat's show_result.py: failed grades
(score -1) and pairs with an 'error' verdict are dropped; a pair whose two games disagree (or tie) is a tie.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatrecipe.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "fastchat"


def run_json(*files) -> dict:
    args = ["eval", "mt-bench", "--json"] + [a for f in files for a in ("--judgments", str(f))]
    result = CliRunner().invoke(app, args + ["--questions", str(FIXTURES / "question.jsonl")])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_single_scores_match_show_result():
    table = run_json(FIXTURES / "model_judgment" / "gpt-4_single.jsonl")["single"]
    a, b = table["model-a"], table["model-b"]
    assert a["turns"]["1"] == pytest.approx(7.0) and a["turns"]["2"] == pytest.approx(6.0)
    assert a["score"] == pytest.approx(6.5) and a["failed"] == 1 and a["valid"] == 4
    assert b["turns"]["1"] == pytest.approx(4.5) and b["turns"]["2"] == pytest.approx(3.0)
    assert b["score"] == pytest.approx(4.0) and b["failed"] == 1
    assert a["categories"] == {"math": pytest.approx(5.5), "writing": pytest.approx(7.5)}


def test_pairwise_counts_match_show_result():
    pairs = run_json(FIXTURES / "model_judgment" / "gpt-4_pair.jsonl")["pairwise"]
    assert {k: pairs["model-a"][k] for k in ("win", "loss", "tie")} == {"win": 2, "loss": 1, "tie": 2}
    assert {k: pairs["model-b"][k] for k in ("win", "loss", "tie")} == {"win": 1, "loss": 2, "tie": 2}
    assert pairs["model-a"]["win_rate"] == pytest.approx(0.4)
    assert pairs["model-a"]["loss_rate"] == pytest.approx(0.2)
    assert pairs["model-a"]["win_rate_adjusted"] == pytest.approx(0.6)
    assert pairs["model-b"]["win_rate_adjusted"] == pytest.approx(0.4)


def test_chatrecipe_judgments_and_radar(tmp_path):
    from chatrecipe.evaluate.mt_bench import radar_plot, single_scores

    judgments = [{"question_id": 1, "kind": "single", "model": m, "turn": 1, "score": s, "error": None,
                  "category": c} for m, s, c in (("x", 8, "math"), ("x", 6, "writing"), ("y", 3, "math"))]
    judgments.append({"question_id": 2, "kind": "single", "model": "y", "turn": 1, "score": None, "error": "bad"})
    table = single_scores(judgments)
    assert table["x"]["score"] == 7 and table["y"]["failed"] == 1 and table["y"]["valid"] == 1
    assert table["x"]["ci_low"] < 7 < table["x"]["ci_high"]
    assert radar_plot(table, tmp_path / "radar.png").stat().st_size > 1000


def test_repeats_give_median_and_spread():
    from chatrecipe.evaluate.mt_bench import single_scores

    judgments = [{"question_id": q, "kind": "single", "model": "x", "turn": 1, "score": s, "error": None,
                  "repeat": r} for r, scores in enumerate(([6, 8], [7, 9], [5, 5])) for q, s in enumerate(scores)]
    row = single_scores(judgments)["x"]
    assert row["repeat_scores"] == [7.0, 8.0, 5.0] and row["repeat_median"] == 7.0 and row["repeat_spread"] == 3.0


def test_one_grade_has_no_interval_and_writes_standard_json():
    """A model graded once has no interval: null in the files, never NaN (which no other JSON reader takes)."""
    import json

    from chatrecipe.evaluate.mt_bench import single_scores

    table = single_scores([{"kind": "single", "model": "m", "question_id": 1, "turn": 1, "score": 7}])
    assert table["m"]["score"] == 7 and table["m"]["ci_low"] is None and table["m"]["ci_high"] is None
    json.dumps(table, allow_nan=False)


def test_alpaca_eval_questions_give_categories_not_a_traceback(tmp_path):
    # --questions was read as raw rows, so AlpacaEval's evaluation set (no question_id) ended in KeyError
    from chatrecipe.data.eval_formats.alpaca_eval import question_id

    outputs = Path(__file__).parents[1] / "data" / "fixtures" / "alpaca_eval" / "model_outputs.json"
    instruction = json.loads(outputs.read_text())[0]["instruction"]
    judgments = tmp_path / "single.jsonl"
    judgments.write_text(json.dumps({"question_id": question_id(instruction), "kind": "single", "model": "m",
                                     "judge": "gpt-4", "turn": 1, "score": 7.0}) + "\n")
    result = CliRunner().invoke(app, ["eval", "mt-bench", "--judgments", str(judgments), "--questions", str(outputs),
                                      "--json"])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert json.loads(result.output.splitlines()[-1])["single"]["m"]["categories"] == {"other": 7.0}


def test_grades_outside_one_to_ten_are_rejected_rows_not_averaged_in(tmp_path):
    """Before: grades of 11 and -3 (a hand-edited or foreign file) were averaged into the MT-Bench score unseen:
    7, 11, -3 and 5 gave 5.00. Now they are rejected rows naming the field, and the command says so (exit 1)."""
    base = {"kind": "single", "model": "m", "turn": 1, "judge": "j", "error": None}
    rows = [dict(base, question_id=1, score=7), dict(base, question_id=2, score=11),
            dict(base, question_id=3, score=-3), dict(base, question_id=4, score=5)]
    path = tmp_path / "single.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["eval", "mt-bench", "--judgments", str(path)])
    assert result.exit_code != 0
    assert "single.jsonl:2: field 'score': 11 is outside the 1-10 grading scale" in result.output
    assert "single.jsonl:3: field 'score': -3 is outside" in result.output
