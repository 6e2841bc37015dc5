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


def test_two_judges_files_read_together_count_both_judges(tmp_path):
    # before: a game was keyed without its judge, so claude-v1's verdicts overwrote gpt-4's on the same items and
    # the two files gave claude-v1's figures alone; FastChat's show_result.py on the files run together counts both
    pair = DATA / "fastchat" / "model_judgment" / "gpt-4_pair.jsonl"
    other = tmp_path / "claude-v1_pair.jsonl"
    other.write_text(pair.read_text().replace('"gpt-4"', '"claude-v1"'))
    alone = winrate_table([pair], "vicuna-7b-v1.3", bootstrap=0)["pairs"][0]
    both = winrate_table([pair, other], "vicuna-7b-v1.3", bootstrap=0)["pairs"][0]
    assert both["n"] == 2 * alone["n"] and both["value"] == pytest.approx(alone["value"])
    assert (both["wins"], both["ties"], both["losses"]) == (2 * alone["wins"], 2 * alone["ties"], 2 * alone["losses"])
