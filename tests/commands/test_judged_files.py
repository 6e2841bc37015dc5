"""The judging commands read questions and answers the same way: `eval audit --experiments` takes FastChat's
model_answer files like `judge pairwise` does (before, it read raw rows and ended in `KeyError: 'model'`)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatrecipe.cli import app
from tests.servers import fault_injecting_app, running

FASTCHAT = Path(__file__).parents[1] / "data" / "fixtures" / "fastchat"


def test_audit_experiments_take_fastchat_answer_files(tmp_path, monkeypatch):
    judge = fault_injecting_app(lambda body, n: ("ok", "Assistant A is better. [[A]]"))
    with running(judge) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "x")
        result = CliRunner().invoke(app, [
            "eval", "audit", "--experiments", "--judge", "openai:gpt-4", "--questions",
            str(FASTCHAT / "question.jsonl"), "--answers-a", str(FASTCHAT / "model_answer" / "vicuna-7b-v1.3.jsonl"),
            "--answers-b", str(FASTCHAT / "model_answer" / "llama-13b.jsonl"), "-o", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    found = json.loads((tmp_path / "experiments.json").read_text())
    assert {"debiasing", "injection"} <= set(found)
    judged = [json.loads(line) for label in ("standard", "debiased")
              for line in (tmp_path / f"audit-{label}.jsonl").read_text().splitlines()]
    assert judged and {(j["model_a"], j["model_b"]) for j in judged} == {("vicuna-7b-v1.3", "llama-13b")}
