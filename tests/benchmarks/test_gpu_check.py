"""benchmarks/gpu_check.py cannot rot: its --tiny run drives every part (SFT both sides, generation, DPO, RM, RLOO,
QLoRA's refusal, the Zephyr recipe through `chatrecipe run`, the gpu-marked tests) on 2-layer models on a CPU."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_gpu_check_tiny_runs_every_part(tmp_path):
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py"), "--tiny", "--work", str(tmp_path / "w"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary == json.loads((tmp_path / "gpu_check.json").read_text())
    statuses = summary["statuses"]
    assert set(statuses) == {"peak", "models", "sft_full:trl", "sft_full:chatrecipe", "sft_lora:trl",
                             "sft_lora:chatrecipe", "generate", "dpo", "rm", "rl", "qlora", "recipe", "gpu_tests"}
    assert statuses["qlora"] == "skipped" and statuses["gpu_tests"] == "skipped"  # no CUDA here
    assert all(statuses[k] == "ok" for k in statuses if k not in ("qlora", "gpu_tests")), statuses
    parts = summary["parts"]
    for method in ("full", "lora"):
        trl, ours = parts[f"sft_{method}:trl"]["settings"], parts[f"sft_{method}:chatrecipe"]["settings"]
        assert (trl["padding_free"], trl["lm_head"], trl["attention"], trl["activation_checkpointing"]) == \
               (False, "fused", "sdpa", True)
        assert (ours["padding_free"], ours["lm_head"], ours["attention"], ours["activation_checkpointing"]) == \
               (True, "logits", "varlen_sdpa", False)  # chatrecipe's CPU defaults
        comparison = summary["comparisons"][method]
        assert comparison["speedup"] > 0 and math.isfinite(comparison["loss_difference"])
        assert comparison["loss_difference"] < 0.02  # the same training, whatever the settings
    for stage in ("dpo", "rm", "rl"):
        assert parts[stage]["loss_finite"] and parts[stage]["weights_changed"] and parts[stage]["weights_finite"]
    assert parts["recipe"]["recipe"] == "recipes/zephyr-7b-beta.yaml"
    assert list(parts["recipe"]["stages"]) == ["data", "sft", "dpo", "generate", "judge", "eval", "report"]
    assert "tests/backends/test_local.py" in parts["gpu_tests"]["files"] and parts["gpu_tests"]["skipped"] >= 1
    assert summary["goals"] is None  # speed goals are judged on a GPU only
    assert "chatrecipe / TRL" in done.stdout


def test_a_failed_part_fails_the_check_and_is_shown():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(BENCHMARKS))
    results = {"peak": {"peak_tflops": 700.0, "device": {"name": "H200"}},
               "models": {"models": {"smollm2-1.7b": {"matmul_parameters": 1.7e9, "layers": 24,
                                                      "attention_width": 2048}}},
               "sft_full:trl": {"shape": "smollm2-1.7b", "tokens_per_second": 10000.0, "loss": 10.0,
                                "mean_attended_length": 1000.0},
               "sft_full:chatrecipe": {"shape": "smollm2-1.7b", "tokens_per_second": 15000.0, "loss": 10.1,
                                       "mean_attended_length": 1000.0},
               "dpo": {"error": "exit 1", "stderr": "CUDA error: out of memory"},
               "rm": {"loss_finite": True, "weights_changed": False, "weights_finite": True}}
    summary = gpu_check.summarise({"results": results, "seconds": 1.0}, tiny=False)
    assert not summary["ok"]
    assert summary["statuses"]["dpo"] == "FAILED" and summary["statuses"]["rm"] == "FAILED"  # weights did not move
    assert summary["statuses"]["recipe"] == "not run"
    full = summary["comparisons"]["full"]
    assert full["speedup"] == pytest.approx(1.5) and full["loss_difference"] == pytest.approx(0.01)
    flops = 6 * 1.7e9 + 6 * 24 * 2048 * 1000.0  # 6 FLOPs per parameter and token, plus causal attention
    assert full["mfu"]["chatrecipe"] == pytest.approx(15000.0 * flops / 700e12)
    assert summary["goals"]["full SFT >= 1.3x TRL's defaults"] == "met"
    assert summary["goals"]["LoRA SFT >= 1.3x TRL's defaults"] == "not measured"
    assert summary["goals"]["losses within 2%"] == "met"
    assert "CUDA error: out of memory" in gpu_check.table(summary)
