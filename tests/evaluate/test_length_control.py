"""Length-controlled win rate agrees with alpaca-eval's own implementation on the same judgments.

`fixtures/alpaca_eval/expected.json` was produced once by running alpaca-eval 0.6.6 (scikit-learn 1.9.1, recorded
in the file) on `judgments.json` in a separate venv, offline, on its fixed-C path (`n_splits=0`, C=100): `minimal`
is compared with it, and with the same path's figures in `fixtures/alpaca_eval/lc_v1/expected.json` (written by
compute_expected.py there, which also records alpaca_eval's cross-validated `length_controlled_minimal` as
`minimal_cv`). The official `v1` is tested in test_lc_v1.py against alpaca_eval's own v1 on a fixture in
AlpacaEval's published df_gamed.csv layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatrecipe.evaluate.length_control import LengthControlError, lc_win_rate

FIXTURE = Path(__file__).parent / "fixtures" / "alpaca_eval"


def test_agrees_with_alpaca_eval_within_half_a_point():
    data = json.loads((FIXTURE / "judgments.json").read_text())
    expected = json.loads((FIXTURE / "expected.json").read_text())["minimal"]
    ours = lc_win_rate(data["annotations"], "minimal")
    assert ours["win_rate"] == pytest.approx(expected["win_rate"], abs=1e-6)
    assert abs(ours["length_controlled_winrate"] - expected["length_controlled_winrate"]) < 0.5
    assert ours["excluded_failures"] == 1


@pytest.mark.parametrize("model", ["steady", "gamer"])
def test_minimal_equals_alpaca_eval_on_a_length_gamer(model):
    # alpaca_eval's minimal GLM (fixed-C path) standardises the length difference over every row of the model,
    # failed ones too; over the judged rows alone the gamer came out at 23.6, not alpaca_eval's 25.4
    lc_v1 = FIXTURE / "lc_v1"
    expected = json.loads((lc_v1 / "expected.json").read_text())["minimal"][model]
    ours = lc_win_rate(json.loads((lc_v1 / model / "annotations.json").read_text()), "minimal")
    assert ours["length_controlled_winrate"] == pytest.approx(expected["length_controlled_winrate"], abs=1e-9)
    assert ours["win_rate"] == pytest.approx(expected["win_rate"], abs=1e-9)


@pytest.mark.parametrize("model", ["steady", "gamer"])
def test_minimal_cv_equals_alpaca_eval_s_shipped_minimal(model):
    # alpaca_eval's length_controlled_minimal picks C by 5-fold cross-validation by default (n_splits=5)
    lc_v1 = FIXTURE / "lc_v1"
    expected = json.loads((lc_v1 / "expected.json").read_text())["minimal_cv"][model]
    ours = lc_win_rate(json.loads((lc_v1 / model / "annotations.json").read_text()), "minimal-cv")
    assert ours["length_controlled_winrate"] == pytest.approx(expected["length_controlled_winrate"], abs=1e-9)
    assert ours["variant"] == "minimal-cv"


def test_length_control_removes_a_pure_length_effect():
    # the judge prefers whichever answer is longer, nothing else: LC should fall back towards 50%
    rows = [{"instruction": f"i{k}", "output_1": "b" * 500, "output_2": "m" * (200 if k % 2 else 900),
             "preference": 1 if k % 2 else 2} for k in range(40)]
    result = lc_win_rate(rows, "minimal")
    assert result["win_rate"] == 50.0 and abs(result["length_controlled_winrate"] - 50) < 5
    rows = [{**r, "output_2": "m" * 900, "preference": 2 if k < 30 else 1} for k, r in enumerate(rows)]
    longer = lc_win_rate(rows, "minimal")
    assert longer["win_rate"] == 75.0  # all answers longer: the length term cannot be told apart from skill


def test_misaligned_judgments_are_named():
    rows = [{"instruction": "a", "output_1": "x", "output_2": "yy", "preference": 2},
            {"instruction": "a", "output_1": "x", "output_2": "yyy", "preference": 1}]
    with pytest.raises(LengthControlError, match="duplicated instructions"):
        lc_win_rate(rows)
    rows[1]["instruction"] = "b"
    with pytest.raises(LengthControlError, match="1 instructions have no judgment"):
        lc_win_rate(rows, instructions=["a", "b", "c"])
    with pytest.raises(LengthControlError, match="df_gamed.csv"):
        lc_win_rate(rows, "v1")


def test_winrate_cli_with_length_control(tmp_path):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    data = json.loads((FIXTURE / "judgments.json").read_text())
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(data["annotations"]))  # AlpacaEval publishes a JSON list
    result = CliRunner().invoke(app, ["eval", "winrate", str(path), "--lc", "minimal", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    expected = json.loads((FIXTURE / "expected.json").read_text())["minimal"]
    assert abs(out["length_controlled"]["length_controlled_winrate"] - expected["length_controlled_winrate"]) < 0.5
    assert out["n"] == 79 and out["excluded_failures"] == 1
