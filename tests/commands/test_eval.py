"""`chatrecipe eval mt-bench | winrate | rm` on the console say what the report says above the same numbers: a figure
resting on fewer than 30 items (or on ties only) is suggestive, not a result."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatrecipe.cli import app

FASTCHAT = Path(__file__).parents[1] / "evaluate" / "fixtures" / "fastchat" / "model_judgment"
runner = CliRunner()


def test_grades_and_win_rates_on_few_items_warn_on_the_console():
    grades = runner.invoke(app, ["eval", "mt-bench", "--judgments", str(FASTCHAT / "gpt-4_single.jsonl")])
    assert grades.exit_code == 0, grades.output
    assert "warning: model-a: only 4 graded answers, so the interval is wide" in grades.stderr
    wins = runner.invoke(app, ["eval", "winrate", str(FASTCHAT / "gpt-4_pair.jsonl")])
    assert wins.exit_code == 0, wins.output
    assert "warning: model-a vs model-b: only 5 judged questions, so the interval is wide" in wins.stderr


def test_a_win_rate_of_ties_only_says_it_means_nothing(tmp_path):
    path = tmp_path / "ties.jsonl"
    path.write_text("".join(json.dumps({"question_id": q, "kind": "pairwise", "model_a": "a", "model_b": "b",
                                        "order": order, "turn": 1, "winner": "tie", "error": None, "judge": "j"}) + "\n"
                            for q in range(40) for order in ("ab", "ba")))
    result = runner.invoke(app, ["eval", "winrate", str(path), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "every verdict was a tie, so this win rate says nothing about either model" in result.stderr
    assert "only 40" not in result.stderr


def test_reward_accuracy_on_few_pairs_warns_but_not_for_the_baselines(tmp_path, tiny_reward_model_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": [{"role": "user", "content": f"question {i}?"}],
                                         "chosen": [{"role": "assistant", "content": "a fine answer " * (1 + i % 3)}],
                                         "rejected": [{"role": "assistant", "content": "no"}]}) + "\n"
                             for i in range(8)))
    result = runner.invoke(app, ["eval", "rm", str(pairs), "--scorer", str(tiny_reward_model_path), "-o",
                                 str(tmp_path / "board")])
    assert result.exit_code == 0, result.output
    assert "(reward-model) on pairs: only 8 scored pairs, so the interval is wide" in result.stderr
    assert "(length) on" not in result.stderr and "(random) on" not in result.stderr
