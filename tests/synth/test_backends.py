"""Synthesis against real backends: an OpenAI-compatible server on 127.0.0.1 that injects 429/500 faults, a
failing endpoint that stops the run resumably, the CLI, the pipeline's synth -> data hand-over, and a tiny
random model with a tiny reward model."""

from __future__ import annotations

import json
import random

import pytest

from chatrecipe.backends.openai_client import OpenAIBackend
from chatrecipe.data.records import read_jsonl
from chatrecipe.synth.requests import SynthStopped
from chatrecipe.pipeline.synth import synthesize
from tests.servers import fault_injecting_app, running
from tests.synth.test_logic import Script

SECTION = {"generator": "openai:gen", "language": None,
           "self_instruct": {"tasks_per_round": 10, "tasks_per_request": 5},
           "pairs": {"k": 2, "temperatures": [0.7, 1.0]}}


def _serve(script, faults=lambda body, n: None):
    def reply(body, n):
        return faults(body, n) or ("ok", script([m for m in body["messages"]]))

    return fault_injecting_app(reply)


def test_faults_are_retried_and_the_run_completes(tmp_path):
    rng = random.Random(0)

    def faults(body, n):
        if rng.random() < 0.3:
            return rng.choice([("status", 429, {"Retry-After": "0.01"}), ("status", 500, {}), ("status", 503, {})])
        return None

    app = _serve(Script(), faults)
    with running(app) as url:
        client = OpenAIBackend("gen", name="openai:gen", base_url=f"{url}/v1", backoff=0.01, max_retries=8)
        result = synthesize(SECTION, output_dir=tmp_path / "out", seed=0, backends={"openai:gen": client})
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert client.retries > 0 and summary["usage"]["failed"] == 0
    si = summary["methods"]["self_instruct"]
    assert si["kept"] == 2 and si["generated"] == si["kept"] + sum(si["rejected"].values())
    assert "instruction: request failed" not in si["rejected"]
    assert summary["usage"]["completion_tokens"] > 0 and summary["usage"]["requests"] >= 4
    pairs = summary["methods"]["pairs"]
    assert pairs["prompts"] == 2 and pairs["generated"] == pairs["kept"] + sum(pairs["rejected"].values())
    assert result["artifacts"]["synth_sft"].endswith("sft.jsonl")
    # k=2 samples of the one prompt went out with different seeds (distinct cache keys, distinct answers)
    sampled = [b for b in app.state.log if b["messages"][-1]["content"] == read_jsonl(
        tmp_path / "out" / "tasks.jsonl")[0]["instruction"] and b.get("temperature", 0) > 0]
    assert {b["seed"] for b in sampled} == {0, 1}


def test_a_failing_endpoint_stops_clearly_and_the_rerun_pays_nothing_twice(tmp_path):
    broken = {"on": True}

    def faults(body, n):
        answering = not body["messages"][0]["content"].startswith("You write new tasks")
        return ("status", 500, {}) if broken["on"] and answering else None

    app = _serve(Script(), faults)
    section = {**SECTION, "pairs": None}
    with running(app) as url:
        client = OpenAIBackend("gen", name="openai:gen", base_url=f"{url}/v1", backoff=0.001, max_retries=2)
        with pytest.raises(SynthStopped, match=r"failed after retries .*HTTP 500.*run the same command again"):
            synthesize(section, output_dir=tmp_path / "out", seed=0, backends={"openai:gen": client})
        asked = [b for b in app.state.log if b["messages"][0]["content"].startswith("You write new tasks")]
        assert len(asked) == 2
        broken["on"] = False
        app.state.log.clear()
        synthesize(section, output_dir=tmp_path / "out", seed=0, backends={"openai:gen": client})
    assert not any(b["messages"][0]["content"].startswith("You write new tasks") for b in app.state.log)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["usage"]["cached"] == 2 and summary["methods"]["self_instruct"]["kept"] == 2


def test_spending_cap_stops_before_sending(tmp_path):
    app = _serve(Script())
    with running(app) as url:
        client = OpenAIBackend("gpt-4o", name="openai:gpt-4o", base_url=f"{url}/v1")
        with pytest.raises(SynthStopped, match="spending cap .* would be exceeded"):
            synthesize({**SECTION, "generator": "openai:gpt-4o", "max_cost": 0.001, "max_new_tokens": 512},
                      output_dir=tmp_path / "out", seed=0, backends={"openai:gpt-4o": client})
    assert app.state.log == []


def test_cli_against_a_server_and_as_a_module(tmp_path):
    import subprocess
    import sys

    from typer.testing import CliRunner

    from chatrecipe.cli import app as cli

    prompts = tmp_path / "q.jsonl"
    prompts.write_text(json.dumps({"question_id": 1, "category": "open_qa", "turns": ["Why do rivers bend?"]}) + "\n")
    with running(_serve(Script())) as url:
        out = tmp_path / "cli"
        result = CliRunner().invoke(cli, ["synth", "pairs", "--generator", "openai:gen", "--base-url", f"{url}/v1",
                                          "-o", str(out), "--set", f"prompt_files=[{prompts}]",
                                          "--set", "language=null"])
        assert result.exit_code == 0, result.output
        assert json.loads((out / "summary.json").read_text())["methods"]["pairs"]["prompts"] == 1
        bad = CliRunner().invoke(cli, ["synth", "pairs", "-o", str(out), "--set", "pairing=random"])
        assert bad.exit_code == 2 and "best-worst or best-random" in bad.output
        module = subprocess.run([sys.executable, "-m", "chatrecipe", "synth", "pairs", "--generator", "openai:gen",
                                 "--base-url", f"{url}/v1", "-o", str(tmp_path / "module"),
                                 "--set", f"prompt_files=[{prompts}]", "--set", "language=null"],
                                capture_output=True, text=True, timeout=120)
        assert module.returncode == 0, module.stderr[-2000:]
        assert (tmp_path / "module" / "summary.json").exists()


@pytest.mark.slow
def test_pipeline_hands_synthetic_data_to_the_data_stage(tmp_path, tiny_model_path):
    from chatrecipe.pipeline.runner import run_recipe

    with running(_serve(Script())) as url:
        recipe = tmp_path / "synth.yaml"
        recipe.write_text(f"""
name: synth-tiny
model: {{name: {tiny_model_path}}}
synth:
  generator: openai:gen
  base_url: {url}/v1
  language: null
  self_instruct: {{tasks_per_round: 10, tasks_per_request: 5}}
  roleplay: {{dialogs: 2, max_turns: 2}}
  pairs: {{k: 2}}
data: {{max_tokens: 512, target_mix: instructgpt, size: null}}
""")
        run_dir = run_recipe(recipe, runs_dir=tmp_path / "runs")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["synth"]["metrics"]["self_instruct_kept"] == 2
    sources = {r.get("source") for r in read_jsonl(run_dir / "data" / "sft.jsonl")}
    assert {"synth:self-instruct", "synth:roleplay"} <= sources
    summary = json.loads((run_dir / "synth" / "summary.json").read_text())
    assert summary["outputs"]["synth_preferences"] is None or any(
        r.get("source") == "synth:pairs" for r in read_jsonl(run_dir / "data" / "preferences.jsonl"))
    from chatrecipe.report.build import build_report

    section = json.loads((run_dir / "synth" / "report.json").read_text())
    overview = {row[0]: row for row in section["tables"][0]["rows"]}
    assert overview["self_instruct"][2] == 2  # kept, as in the manifest
    assert all(row[1] == row[2] + row[3] for row in overview.values())  # generated = kept + rejected
    page = build_report([run_dir], tmp_path / "report")["html"].read_text()
    assert "Bootstrapped data (synth)" in page and "Why items were rejected" in page


def test_tiny_random_model_and_reward_model(tmp_path, tiny_model_path, tiny_reward_model_path):
    from chatrecipe.synth.reward_rating import score_responses

    model = str(tiny_model_path)
    section = {"generator": model, "language": None, "max_new_tokens": 12, "batch_size": 4,
               "self_instruct": {"tasks_per_round": 4, "tasks_per_request": 2},
               "roleplay": {"dialogs": 2, "min_turns": 1, "max_turns": 2},
               "pairs": {"prompt_files": ["starter:sft.jsonl"], "max_prompts": 3, "k": 2, "rating": "reward",
                         "reward_model": str(tiny_reward_model_path)}}
    synthesize(section, output_dir=tmp_path / "out", seed=0)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for name, report in summary["methods"].items():
        assert report["generated"] == report["kept"] + sum(report["rejected"].values()), name
    assert summary["usage"]["completion_tokens"] > 0 and summary["usage"]["completion_tokens_per_second"] > 0
    assert summary["methods"]["pairs"]["prompts"] == 3
    prompts = [[{"role": "user", "content": "Hello there"}], [{"role": "user", "content": "Write a poem"}]]
    responses = ["Hi! How can I help you today?", "Waves fold into foam, the tide forgets its own name."]
    batched = score_responses(str(tiny_reward_model_path), prompts * 3, responses * 3, batch_size=4)
    alone = [score_responses(str(tiny_reward_model_path), [p], [r])[0] for p, r in zip(prompts, responses)]
    assert batched[:2] == pytest.approx(alone, abs=1e-4) and batched[2:4] == pytest.approx(alone, abs=1e-4)
    assert alone[0] != alone[1]
    too_long = score_responses(str(tiny_reward_model_path), prompts, ["sea " * 600, responses[1]])
    assert too_long[0] is None and too_long[1] == pytest.approx(alone[1], abs=1e-4)  # not scored, never truncated
