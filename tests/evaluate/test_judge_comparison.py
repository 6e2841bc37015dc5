"""Judge and human leaderboards side by side (`eval elo --by-judge`): each judge its own fit, people's votes as one
group, and with style control what relative length is worth to each judge."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chatrecipe.evaluate.battles import BattleError
from chatrecipe.evaluate.judge_comparison import MAX_JUDGES, compare_judges, judge_groups

SKILL = {"verbose": -40.0, "mid": 0.0, "terse": 60.0}  # Elo
LENGTH = {"verbose": 1000, "mid": 400, "terse": 150}


def battles(n: int, judge: str, length_effect: float, seed: int) -> list[dict]:
    """Battles among three models; the judge adds `length_effect` logits per standard deviation of relative length."""
    rng = np.random.default_rng(seed)
    models = list(SKILL)
    out, rows = [], []
    for _ in range(n):
        a, b = rng.choice(3, 2, replace=False)
        rows.append((models[a], models[b], int(rng.poisson(LENGTH[models[a]])), int(rng.poisson(LENGTH[models[b]]))))
    diff = np.array([(x - y) / (x + y + 1.0) for _, _, x, y in rows])
    z = (diff - diff.mean()) / diff.std()
    for k, (a, b, x, y) in enumerate(rows):
        logit = math.log(10) / 400 * (SKILL[a] - SKILL[b]) + length_effect * z[k]
        won = rng.random() < 1 / (1 + math.exp(-logit))
        out.append({"model_a": a, "model_b": b, "winner": "model_a" if won else "model_b",
                    "judge": f"human:annotator{k % 3}" if judge == "human" else judge,
                    "conv_metadata": {"sum_assistant_a_tokens": x, "sum_assistant_b_tokens": y, "header_count_a": 0,
                                      "header_count_b": 0, "list_count_a": 0, "list_count_b": 0,
                                      "bold_count_a": 0, "bold_count_b": 0}})
    return out


def test_people_and_a_length_loving_judge_compared_plain_and_style_controlled():
    rows = battles(3000, "gpt-4", 0.8, seed=1) + battles(3000, "human", 0.0, seed=2)
    assert set(judge_groups(rows)) == {"gpt-4", "human:"}  # the three annotators are one group
    compared = compare_judges(rows, bootstrap=30, style=True)
    judge, people = compared["judges"]["gpt-4"], compared["judges"]["human:"]
    assert judge["battles"] == people["battles"] == 3000
    assert judge["length"]["elo"] > 80 and people["length"]["ci_low"] < 0 < people["length"]["ci_high"]
    # the judge's plain leaderboard puts verbose above mid, the people's does not; style control agrees with people
    assert judge["plain"]["verbose"]["value"] > judge["plain"]["mid"]["value"]
    assert people["plain"]["verbose"]["value"] < people["plain"]["mid"]["value"]
    assert judge["style_controlled"]["verbose"]["value"] < judge["style_controlled"]["mid"]["value"]
    plain_only = compare_judges(rows, bootstrap=0)
    assert "style_controlled" not in plain_only["judges"]["gpt-4"] and plain_only["judges"]["human:"]["plain"]


def test_too_many_judges_or_an_unratable_group_are_said():
    many = [{"model_a": "a", "model_b": "b", "winner": "model_a", "judge": f"user{i}"} for i in range(MAX_JUDGES + 1)]
    with pytest.raises(BattleError, match=f"name {MAX_JUDGES + 1} judges .*keep some with --judge"):
        judge_groups(many)
    # a people's battle without style features: that group says why, the judge's group is still compared
    rows = battles(200, "gpt-4", 0.0, seed=3) + [{"model_a": "a", "model_b": "b", "winner": "tie", "judge": "human:x"}]
    compared = compare_judges(rows, bootstrap=0, style=True)
    assert "no conv_metadata" in compared["judges"]["human:"]["error"]
    assert "style_controlled" in compared["judges"]["gpt-4"]


def test_eval_elo_by_judge_prints_the_side_by_side_tables(tmp_path):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(b) + "\n"
                            for b in battles(600, "gpt-4", 0.8, seed=4) + battles(600, "human", 0.0, seed=5)))
    result = CliRunner().invoke(app, ["eval", "elo", str(path), "--by-judge", "--style-control", "--bootstrap", "0",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "out" / "elo.json").read_text())
    assert "Judges side by side, tie allowed (no bootstrap: point ratings, no intervals)" in [
        t["title"] for t in written["tables"]]
    assert "-- Judges side by side, tie allowed (no bootstrap: point ratings, no intervals)" in result.stdout
    assert "human: (600 battles), style-controlled" in result.stdout
    assert "-- What one standard deviation of relative length is worth to each judge" in result.stdout
    assert "rated together" not in result.stderr
    as_json = json.loads(CliRunner().invoke(app, ["eval", "elo", str(path), "--by-judge", "--bootstrap", "0",
                                                  "--json"]).stdout)
    assert set(as_json["by_judge"]["judges"]) == {"gpt-4", "human:"}
