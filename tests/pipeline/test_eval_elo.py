"""The eval section's Elo builder: with `eval.style_control` the section carries the style-controlled table, the
style counted from the run's answer files; a battle whose answer is missing is listed, not fitted."""

from __future__ import annotations

from chatrecipe.pipeline.eval import EvalArgs, elo
from tests.evaluate.test_style_control import _judgments_and_answers


def test_style_control_in_the_eval_section(tmp_path):
    judgments, answers, _ = _judgments_and_answers()
    del answers["list"][3]
    section, per_model = elo(judgments, [], tmp_path, EvalArgs(style_control=True, bootstrap=20), seed=0,
                             answers=answers)
    titles = [t["title"] for t in section["tables"]]
    assert "Plain vs style-controlled ratings, tie allowed (20 bootstrap rounds)" in titles
    assert any(w.startswith("2 battle(s) had no style features") and "no answer of list to question 3" in w
               for w in section["warnings"])
    assert set(per_model["long"]) == {"elo_tie_allowed", "elo_tie_none", "elo_style_controlled"}
    plain_only, _ = elo(judgments, [], tmp_path, EvalArgs(bootstrap=20), seed=0, answers=answers)
    assert len(plain_only["tables"]) == 2 and (tmp_path / "battles.jsonl").exists()
