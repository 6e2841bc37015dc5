"""The report opens with the answer: every checkpoint across every measure, with intervals, and the judge's audit
verdict beside each judge-based column."""

from __future__ import annotations

import json

from chatrecipe.evaluate.audit import judge_verdict, position_bias
from chatrecipe.report.build import build_report
from chatrecipe.report.sections.summary import summary_section


def _judgments(first_share: float, n: int = 40) -> list[dict]:
    """Pairwise verdicts in both orders where the judge picks the first-shown answer `first_share` of the time."""
    rows = []
    for q in range(n):
        for order in ("ab", "ba"):
            first = (q * 7 + (order == "ba")) % 100 < first_share * 100
            winner = "model_a" if first == (order == "ab") else "model_b"
            rows.append({"question_id": q, "kind": "pairwise", "model_a": "sft", "model_b": "base", "order": order,
                         "turn": 1, "winner": winner, "judge": "j"})
    return rows


def test_judge_verdict_fails_a_judge_that_follows_the_answer_order():
    biased = judge_verdict(position_bias(_judgments(1.0)))
    assert biased["passed"] is False and any("first-shown answer in 100%" in r for r in biased["reasons"])
    assert any("both answer orders on 0%" in r for r in biased["reasons"])
    assert judge_verdict(position_bias(_judgments(1.0, n=3)))["passed"] is None  # too few to tell
    fair = [dict(j, winner="model_a") for j in _judgments(0.5)]
    assert judge_verdict(position_bias(fair))["passed"] is True  # sft wins in both orders: consistent, no pull


def _run(tmp_path, judge_audit: dict | None):
    run = tmp_path / "demo"
    (run / "eval").mkdir(parents=True)
    models = {"base": {"mt_bench": {"value": 4.6, "ci_low": 4.1, "ci_high": 5.1},
                       "redteam_attack_success": {"value": 0.98, "ci_low": 0.9, "ci_high": 1.0, "n": 50}},
              "sft": {"mt_bench": {"value": 5.2, "ci_low": 4.8, "ci_high": 5.6},
                      "win_rate_vs_base": {"value": 0.61, "ci_low": 0.52, "ci_high": 0.7, "se": 0.04, "n": 80},
                      "position_consistency": {"value": 0.3},
                      "elo_tie_allowed": {"value": 1012.0, "ci_low": 990.0, "ci_high": 1031.0},
                      "rm_accuracy (dpo)": {"value": 0.7, "ci_low": 0.6, "ci_high": 0.78, "n": 96},
                      "truthfulqa": {"value": 0.41, "ci_low": 0.37, "ci_high": 0.45}}}
    (run / "eval" / "summary.json").write_text(json.dumps({"models": models, **({"judge_audit": judge_audit}
                                                                               if judge_audit else {})}))
    return run


def test_the_report_opens_with_every_checkpoint_and_flags_a_failed_judge(tmp_path):
    verdict = {"judge": "smollm2", **judge_verdict(position_bias(_judgments(1.0)))}
    run = _run(tmp_path, verdict)
    paths = build_report([run], run / "report")
    sections = json.loads(paths["json"].read_text())["sections"]
    opening = sections[0]
    assert opening["title"].startswith("Summary")
    table = opening["tables"][0]
    assert table["columns"] == ["measure", "judged by", "base", "sft"]
    rows = {r[0]: r for r in table["rows"]}
    assert [r[0] for r in table["rows"]][:4] == ["MT-Bench grade (1-10)", "win rate vs base (%)",
                                                 "rating (Bradley-Terry)", "reward accuracy, dpo (%)"]
    assert "truthfulqa" in rows and not any("position_consistency" in r for r in rows)
    assert rows["win rate vs base (%)"] == ["win rate vs base (%)", "judge: FAILED its audit", "", "61.0 [52.0, 70.0]"]
    assert rows["rating (Bradley-Terry)"][1:] == ["judge: FAILED its audit", "", "1012 [990, 1031]"]
    assert rows["attack success (%, lower is better)"][1:] == ["no judge", "98.0 [90.0, 100.0]", ""]
    assert rows["MT-Bench grade (1-10)"][2:] == ["4.60 [4.10, 5.10]", "5.20 [4.80, 5.60]"]
    assert "failed its own audit" in opening["warnings"][0] and "first-shown answer in 100%" in opening["warnings"][0]
    assert "Summary: every checkpoint" in paths["html"].read_text().split("<section")[1]  # first on the page


def test_a_passing_or_missing_audit_is_said_too(tmp_path):
    passing = _run(tmp_path, {"judge": "gpt", "passed": True, "reasons": []})
    section = summary_section({"models": json.loads((passing / "eval" / "summary.json").read_text())["models"],
                               "judge_audit": {"judge": "gpt", "passed": True, "reasons": []}})
    assert section["tables"][0]["rows"][0][:2] == ["MT-Bench grade (1-10)", "judge: passed its audit"]
    assert section["warnings"] == []
    unaudited = summary_section({"models": {"sft": {"mt_bench": {"value": 5.0}}}})
    assert unaudited["tables"][0]["rows"][0][1] == "judge: not audited" and unaudited["warnings"]
    assert summary_section({"models": {"base": {}}}) is None
