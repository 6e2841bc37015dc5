"""SIGKILL in the middle of `chatrecipe synth pairs` through an endpoint, then the same command again: sampled
answers and the judge's ratings are cached as each arrives (synthesis shares the backends' cache), so the rerun
pays for none of them twice and still makes its pairs."""

from __future__ import annotations

import json

import pytest

from tests.kill_rerun import kill_then_rerun
from tests.synth.test_logic import Script


@pytest.mark.slow
def test_synth_pairs_killed_mid_run_pays_nothing_twice(tmp_path):
    prompts = tmp_path / "q.jsonl"
    prompts.write_text("".join(json.dumps({"question_id": i, "category": "open_qa", "turns": [f"Why is {w} so?"]})
                               + "\n" for i, w in enumerate(["grass", "snow", "sand", "rain", "salt", "ice"])))
    out = tmp_path / "synth"
    expected = 6 * 2 * 2  # k=2 samples per prompt, each rated once by the judge
    script = Script()

    def reply(body: dict) -> str:  # each sample its own text (by its seed), so each rating prompt is distinct
        return script(body["messages"]) + (f" (take {body['seed']})" if "seed" in body else "")

    before, sent, rerun = kill_then_rerun(
        reply,
        lambda url: ["synth", "pairs", "--generator", "openai:gen", "--base-url", f"{url}/v1", "-o", str(out),
                     "--set", f"prompt_files=[{prompts}]", "--set", "language=null", "--set", "max_concurrency=1"],
        tmp_path, kill_after=expected // 3)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [body for body, n in sent.items() if n > 1] == []  # no answer paid for twice
    assert sum(sent.values()) == expected and before == expected // 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"]["pairs"]["prompts"] == 6
    assert summary["usage"]["cached"] == expected // 3  # what the killed run received came back from the cache
