"""The benchmark leaderboards as report sections: layout, intervals and the length-baseline warning."""

from __future__ import annotations

import pytest

from chatrecipe.report.sections.benchmarks import lm_bench_section, rm_bench_section


def _row(model, kind, accuracy, correct, scored, ties=0):
    entry = {"accuracy": accuracy, "correct": correct, "wrong": scored - correct - ties, "ties": ties, "failed": 0,
             "scored": scored, "n": scored}
    return {"model": model, "revision": "r1", "dtype": "float32", "kind": kind, "average": accuracy,
            "sets": {"helpful": entry}, "n": scored, "ties": ties, "failed": 0}


def test_rm_section_reads_accuracy_against_length():
    results = {"columns": ["helpful"], "test_sets": {"helpful": {"pairs": 20, "rejected": 1, "sha256": "ab" * 32}},
               "rows": [_row("length", "length", 0.7, 14, 20), _row("random", "random", 0.5, 10, 20),
                        _row("runs/x/rm/final", "reward-model", 0.65, 13, 20, ties=1),
                        _row("runs/x/dpo/final", "dpo", 0.9, 18, 20)]}
    section, per_model = rm_bench_section(results, {"runs/x/rm/final": "rm", "runs/x/dpo/final": "dpo"})
    table = section["tables"][0]
    assert table["columns"] == ["model", "revision", "dtype", "kind", "average", "helpful"]
    assert [r[0] for r in table["rows"]] == ["dpo", "length", "rm", "random"]  # best first
    assert table["rows"][2][-1] == "65.0 [43.3, 81.9] (1 ties)"  # Wilson interval over the 20 scored pairs
    length_warnings = [w for w in section["warnings"] if "longer response wins" in w]
    assert len(length_warnings) == 1 and length_warnings[0].startswith("rm (reward-model)")
    small = [w for w in section["warnings"] if "only 20 scored pairs" in w]
    assert sorted(w.split(":")[0] for w in small) == ["dpo (dpo) on helpful", "rm (reward-model) on helpful"]
    assert per_model["dpo"]["rm_accuracy (dpo)"]["value"] == pytest.approx(0.9)
    assert per_model["rm"]["rm_accuracy (reward-model)"]["ci_low"] < 0.65 < per_model["rm"][
        "rm_accuracy (reward-model)"]["ci_high"]
    assert "length" not in per_model and "random" not in per_model


def test_lm_bench_section_table_and_intervals():
    rows = [{"model": "m/base", "revision": "r", "dtype": "float32", "benchmark": b, "value": v, "stderr": 0.01,
             "num_fewshot": k, "chat_template": True, "limit": None}
            for b, v, k in (("arc", 0.4, 25), ("truthfulqa", 0.38, 0))]
    rows.append({**rows[0], "model": "m/sft", "value": 0.42, "limit": 50})
    section, per_model = lm_bench_section({"rows": rows}, {"m/base": "base", "m/sft": "sft"})
    table = section["tables"][0]
    assert table["columns"] == ["model", "revision", "dtype", "arc", "truthfulqa"]
    assert table["rows"][0] == ["base", "r", "float32", "40.0 ± 1.0 (25-shot, chat)", "38.0 ± 1.0 (0-shot, chat)"]
    assert table["rows"][1][4] == ""  # sft has no truthfulqa row
    assert per_model["base"]["arc"]["ci_low"] == pytest.approx(0.4 - 0.0196)
    assert any("--limit of 50" in w for w in section["warnings"])
