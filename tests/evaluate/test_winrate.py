"""`eval winrate` on files that hold no pairwise judgment says what they hold and where it goes, instead of
"no pairwise judgments for ; the files hold none (models: )" with blank names."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatrecipe.evaluate.winrate import WinRateError, winrate_table

DATA = Path(__file__).parents[1] / "data" / "fixtures"
ANNOTATIONS = DATA / "alpaca_eval" / "annotations.json"


@pytest.mark.parametrize("path, held", [
    (DATA / "fastchat" / "model_judgment" / "gpt-4_single.jsonl", "single judgments"),
    (DATA / "fastchat" / "model_answer" / "llama-13b.jsonl", "rows that are not judgments"),
])
def test_files_without_pairwise_judgments_say_what_they_hold(path, held):
    with pytest.raises(WinRateError) as caught:
        winrate_table([path], bootstrap=0)
    message = str(caught.value)
    assert f"no pairwise judgments in {path}" in message and held in message
    assert "for ;" not in message and "(models: )" not in message


def test_an_empty_file_is_named_not_called_a_mix_of_layouts(tmp_path):
    empty = tmp_path / "annotations.json"
    empty.write_text("")
    with pytest.raises(WinRateError) as caught:
        winrate_table([empty, ANNOTATIONS], bootstrap=0)
    assert str(empty) in str(caught.value) and "no readable row" in str(caught.value)
    assert "not both" not in str(caught.value)
