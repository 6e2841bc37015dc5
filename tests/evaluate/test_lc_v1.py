"""`--lc v1` is AlpacaEval 2's official length-controlled win rate, computed from AlpacaEval's published
df_gamed.csv, and nothing pretends to be v1 without it.

fixtures/alpaca_eval/lc_v1 holds a df_gamed.csv in AlpacaEval's layout and two models' annotations (written by
make_fixture.py); expected.json there was computed by alpaca_eval 0.6.6 itself (compute_expected.py: its
`get_length_controlled_winrate(glm_name="length_controlled_v1")`, offline, its download pointed at the fixture),
so these tests compare against an independent implementation, not against our own numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chatrecipe.data.eval_formats.alpaca_eval import LC_DATA_URL, read_lc_data
from chatrecipe.data.schema import RecordError
from chatrecipe.evaluate.length_control import LengthControlError, lc_win_rate

FIXTURE = Path(__file__).parent / "fixtures" / "alpaca_eval" / "lc_v1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def annotations(model: str) -> list[dict]:
    return json.loads((FIXTURE / model / "annotations.json").read_text())


@pytest.mark.parametrize("model", ["steady", "gamer"])
def test_v1_equals_alpaca_eval(model):
    ours = lc_win_rate(annotations(model), "v1", lc_data=read_lc_data(FIXTURE / "df_gamed.csv"))
    expected = EXPECTED[model]
    assert ours["length_controlled_winrate"] == pytest.approx(expected["length_controlled_winrate"], abs=1e-9)
    assert ours["lc_standard_error"] == pytest.approx(expected["lc_standard_error"], abs=1e-9)
    assert ours["win_rate"] == pytest.approx(expected["win_rate"], abs=1e-9)
    assert ours["n"] == expected["n_total"] and ours["excluded_failures"] == 2


def test_v1_does_not_reward_the_length_gamer():
    data = read_lc_data(FIXTURE / "df_gamed.csv")
    gamer, steady = (lc_win_rate(annotations(m), "v1", lc_data=data) for m in ("gamer", "steady"))
    assert gamer["win_rate"] > steady["win_rate"]  # raw: the long answers win
    assert gamer["length_controlled_winrate"] < steady["length_controlled_winrate"]  # controlled: they do not


def test_v1_refuses_without_the_published_data():
    with pytest.raises(LengthControlError, match="df_gamed.csv") as caught:
        lc_win_rate(annotations("steady"), "v1")
    assert LC_DATA_URL in str(caught.value) and "--lc-data" in str(caught.value)


def test_v1_refuses_annotations_that_do_not_line_up(tmp_path):
    data = read_lc_data(FIXTURE / "df_gamed.csv")
    with pytest.raises(LengthControlError, match="by position"):
        lc_win_rate(annotations("steady")[:-1], "v1", lc_data=data)
    with pytest.raises(LengthControlError, match="one model at a time"):
        lc_win_rate(annotations("steady")[:20] + annotations("gamer")[20:], "v1", lc_data=data)


def test_lc_data_file_problems_are_named(tmp_path):
    with pytest.raises(RecordError, match="no such file") as caught:
        read_lc_data(tmp_path / "df_gamed.csv")
    assert LC_DATA_URL in caught.value.reason
    lines = (FIXTURE / "df_gamed.csv").read_text().splitlines()
    (tmp_path / "cut.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    with pytest.raises(RecordError, match="not_gamed_baseline"):
        read_lc_data(tmp_path / "cut.csv")
    (tmp_path / "shuffled.csv").write_text("\n".join([lines[0], lines[2], lines[1], *lines[3:]]) + "\n")
    with pytest.raises(RecordError, match="order"):
        read_lc_data(tmp_path / "shuffled.csv")


def test_winrate_cli_v1_for_several_models(tmp_path):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    files = [str(FIXTURE / m / "annotations.json") for m in ("steady", "gamer")]
    result = CliRunner().invoke(app, ["eval", "winrate", *files, "--lc", "v1", "--lc-data",
                                      str(FIXTURE / "df_gamed.csv"), "--bootstrap", "0", "--json"])
    assert result.exit_code == 0, result.output
    pairs = {p["model"]: p for p in json.loads(result.output)["pairs"]}
    for name, model in (("steady", "steady-7b"), ("gamer", "gamer-7b")):
        lc = pairs[model]["length_controlled"]["length_controlled_winrate"]
        assert lc == pytest.approx(EXPECTED[name]["length_controlled_winrate"], abs=1e-9)
    shutil.copy(files[0], tmp_path / "annotations.json")
    refused = CliRunner().invoke(app, ["eval", "winrate", str(tmp_path / "annotations.json"), "--lc", "v1"])
    assert refused.exit_code == 2 and "df_gamed.csv" in refused.output
