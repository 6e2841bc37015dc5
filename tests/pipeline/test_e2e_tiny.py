"""End to end: `chatrecipe run` on a tiny recipe (tiny model as policy and judge): every stage, then a second run
that skips everything."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_chatrecipe_run_end_to_end(tmp_path, tiny_model_path):
    recipe = tmp_path / "tiny.yaml"
    model = str(tiny_model_path)
    recipe.write_text(f"""
name: tiny
model: {{name: {model}}}
data: {{max_tokens: 512, target_mix: instructgpt, size: 24}}
sft: {{max_steps: 4, per_device_train_batch_size: 4, logging_steps: 1, save_steps: 2, bf16: false,
       activation_checkpointing: false, max_length: 512}}
dpo: {{max_steps: 2, per_device_train_batch_size: 2, logging_steps: 1, save_steps: 2, bf16: false,
       activation_checkpointing: false, max_length: 512}}
generate: {{max_new_tokens: 8, max_questions: 6, batch_size: 8}}
judge: {{model: {model}, max_new_tokens: 8, audit_experiments: true, audit_questions: 3}}
eval: {{bootstrap: 50, redteam: true, redteam_per_group: 1, redteam_max_new_tokens: 8, rm_bench: true,
        rm_test_sets: ["rm:helpful.jsonl"]}}
report: {{}}
""")
    command = [sys.executable, "-m", "chatrecipe.cli", "run", str(recipe), "--runs-dir", str(tmp_path / "runs")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "runs" / "tiny"
    manifest = json.loads((run / "manifest.json").read_text())
    assert [s for s, v in manifest["stages"].items() if v["status"] == "done"] == [
        "data", "sft", "dpo", "generate", "judge", "eval", "report"]
    page = (run / "report" / "index.html").read_text()
    for title in ("Data", "Length distribution", "Training: Supervised fine-tuning", "Training: DPO",
                  "MT-Bench-style grades", "Win rate against base (pairwise, both orders)", "Judge audit",
                  "Red-teaming: attack success and over-refusal",
                  "Reward-model benchmark: accuracy on held-out preference sets"):
        assert title in page, title
    assert str(run / "report" / "index.html") in first.stdout
    experiments = json.loads((run / "judge" / "audit-experiments.json").read_text())
    assert experiments["questions"] == 3 and "debiased" in experiments["debiasing"]
    assert "first-position share, debiasing prompt" in page
    for figure in ("more diverse answer wins", "own-family answer wins", "eval questions found in training data"):
        assert figure in page, figure
    assert "Self-preference is not measured" in page  # every checkpoint shares the judge's family here
    audit = json.loads((run / "eval" / "sections" / "80-audit.json").read_text())
    assert {"eval/judge_audit.png", "eval/length_bias.png"} <= set(audit["plots"])
    assert all((run / p).stat().st_size > 0 for p in audit["plots"])
    rm_bench = json.loads((run / "eval" / "rm-bench" / "rm_bench.json").read_text())
    assert {r["kind"] for r in rm_bench["rows"]} == {"length", "random", "dpo", "dpo-normalised"}
    assert all(r["n"] == rm_bench["test_sets"]["helpful"]["pairs"] for r in rm_bench["rows"])
    redteam = json.loads((run / "eval" / "redteam" / "redteam.json").read_text())
    assert set(redteam["models"]) == {"base", "sft", "dpo"}  # every checkpoint, the same 54 prompts
    assert all(sum(r["labels"].values()) + r["failed"]["total"] == 54 for r in redteam["models"].values())
    # the tiny random judge cannot follow the format: its verdicts are failures, counted, never defaulted
    judgments = [json.loads(line) for line in (run / "judge" / "single.jsonl").read_text().splitlines()]
    assert all(j["score"] is None and j["error"] for j in judgments if "[[" not in (j["raw"] or ""))
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert {v["status"] for v in manifest["stages"].values()} == {"skipped (complete)"}
