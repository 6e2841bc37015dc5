"""Tables built on very small or all-tie samples say so above their numbers."""

from __future__ import annotations

from chatrecipe.evaluate.elo import leaderboard
from chatrecipe.evaluate.mt_bench import single_scores
from chatrecipe.evaluate.winrate import pairwise_win_rates
from chatrecipe.report.sections.elo import elo_section
from chatrecipe.report.sections.mt_bench import mt_bench_section
from chatrecipe.report.sections.winrate import winrate_section


def _pairwise(n: int, winner: str) -> list[dict]:
    return [{"question_id": q, "kind": "pairwise", "model_a": "sft", "model_b": "base", "order": order, "turn": 1,
             "winner": winner, "judge": "j"} for q in range(n) for order in ("ab", "ba")]


def test_small_and_all_tie_win_rates_are_flagged():
    small, _ = winrate_section(pairwise_win_rates(_pairwise(8, "model_a"), {}), {})
    assert any("only 8 judged questions" in w for w in small["warnings"])
    ties, _ = winrate_section(pairwise_win_rates(_pairwise(40, "tie"), {}), {})
    assert any("every verdict was a tie" in w for w in ties["warnings"])
    assert not any("only" in w for w in ties["warnings"])
    large, _ = winrate_section(pairwise_win_rates(_pairwise(40, "model_a"), {}), {})
    assert not any("only" in w or "every verdict" in w for w in large["warnings"])


def test_small_grade_and_battle_counts_are_flagged(tmp_path):
    grades = [{"kind": "single", "model": "m", "question_id": q, "turn": 1, "score": 5 + q % 3} for q in range(6)]
    section, _ = mt_bench_section(single_scores(grades), {})
    assert any(w.startswith("m: only 6 graded answers") for w in section["warnings"])
    battles = [{"model_a": "a", "model_b": "b", "winner": "model_a" if i % 3 else "model_b"} for i in range(12)]
    section, _ = elo_section(leaderboard(battles, bootstrap=10), tmp_path, source="test")
    assert any("a, b: fewer than 30 battles each" in w for w in section["warnings"])
