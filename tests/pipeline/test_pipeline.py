"""`chatrecipe run` orchestration: flow order, manifest, skipping complete stages, re-running changed ones."""

from __future__ import annotations

import json

import pytest

from chatrecipe.pipeline import runner as pipeline
from chatrecipe.recipe import RecipeError


@pytest.fixture
def counting_stages(monkeypatch):
    """Replace stage bodies with small real functions that record their calls (the orchestration is under test)."""
    calls = []

    def make(name):
        def stage(run):
            calls.append(name)
            if run.recipe.get("report", {}).get("title") == "boom" and name == "report":
                raise RuntimeError("disk full")
            (run.stage_dir(name) / "out.txt").write_text(name)
            return {"metrics": {"n": len(calls)}, "artifacts": {f"{name}_out": str(run.stage_dir(name))}}
        return stage

    for name in pipeline.FLOW:
        monkeypatch.setitem(pipeline.STAGES, name, make(name))
    return calls


def write_recipe(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_runs_in_flow_order_then_skips_everything(tmp_path, counting_stages):
    recipe = write_recipe(tmp_path, "name: t\nreport: {}\ngenerate: {max_new_tokens: 8}\ndata: {}\n")
    run_dir = pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    assert counting_stages == ["data", "generate", "report"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [manifest["stages"][s]["status"] for s in ("data", "generate", "report")] == ["done"] * 3
    assert manifest["seed"] == 42 and "torch" in manifest["versions"]
    assert manifest["artifacts"]["data_out"].endswith("data")
    assert (run_dir / "recipe.yaml").exists()
    pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    assert counting_stages == ["data", "generate", "report"]  # nothing re-ran
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["generate"]["status"] == "skipped (complete)"
    assert manifest["artifacts"]["generate_out"]  # artifacts of skipped stages are handed on


def test_changed_section_reruns_it_and_what_follows(tmp_path, counting_stages):
    recipe = write_recipe(tmp_path, "name: t\ndata: {}\ngenerate: {}\nreport: {}\n")
    pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    counting_stages.clear()
    pipeline.run_recipe(recipe, ["generate.max_new_tokens=12"], runs_dir=tmp_path / "runs")
    assert counting_stages == ["generate", "report"]
    counting_stages.clear()
    pipeline.run_recipe(recipe, ["generate.max_new_tokens=12"], runs_dir=tmp_path / "runs", from_stage="data")
    assert counting_stages == ["data", "generate", "report"]


def test_failed_stage_is_recorded_and_resumed(tmp_path, counting_stages):
    recipe = write_recipe(tmp_path, "name: t\ndata: {}\nreport: {title: boom}\n")
    with pytest.raises(pipeline.PipelineError, match="disk full"):
        pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    manifest = json.loads((tmp_path / "runs" / "t" / "manifest.json").read_text())
    assert manifest["stages"]["report"]["status"] == "failed"
    counting_stages.clear()
    pipeline.run_recipe(recipe, ["report.title=ok"], runs_dir=tmp_path / "runs")
    assert counting_stages == ["report"]  # data was complete


def test_an_interrupted_stage_says_it_resumes_and_the_manifest_records_it(tmp_path, counting_stages, monkeypatch,
                                                                           capsys):
    recipe = write_recipe(tmp_path, "name: t\ndata: {}\n")
    original = pipeline.STAGES["data"]
    monkeypatch.setitem(pipeline.STAGES, "data", lambda run: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    started = json.loads((tmp_path / "runs" / "t" / "data" / "attempt.json").read_text())["started"]
    monkeypatch.setitem(pipeline.STAGES, "data", original)
    capsys.readouterr()
    pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    assert f"resuming the interrupted attempt of {started}" in " ".join(capsys.readouterr().err.split())
    manifest = json.loads((tmp_path / "runs" / "t" / "manifest.json").read_text())
    assert manifest["stages"]["data"]["status"] == "done"
    assert manifest["stages"]["data"]["resumed_attempt_of"] == started


def test_bad_sections_fail_before_any_work(tmp_path, counting_stages):
    recipe = write_recipe(tmp_path, "name: t\ndata: {}\ngenerate: {max_new_tokens: lots}\n")
    with pytest.raises(RecipeError, match="generate.max_new_tokens"):
        pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    assert counting_stages == []
    with pytest.raises(RecipeError, match="unknown key"):
        pipeline.validate_recipe(write_recipe(tmp_path, "judge: {modle: x}\n"))
    with pytest.raises(RecipeError, match="not a stage"):
        pipeline.run_recipe(write_recipe(tmp_path, "data: {}\n"), runs_dir=tmp_path / "runs", only="sft")


def test_outputs_of_other_inputs_are_cleared_but_interrupted_attempts_resume(tmp_path, monkeypatch):
    seen = []

    def generate(run):
        folder = run.stage_dir("generate")
        seen.append(sorted(p.name for p in folder.iterdir()))
        (folder / "partial.jsonl").write_text("x")
        (folder / "cache").mkdir(exist_ok=True)
        if run.recipe["generate"].get("max_new_tokens") == 99:
            raise RuntimeError("killed")
        return {}

    monkeypatch.setitem(pipeline.STAGES, "generate", generate)
    recipe = write_recipe(tmp_path, "name: t\ngenerate: {max_new_tokens: 99}\n")
    with pytest.raises(pipeline.PipelineError):
        pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    with pytest.raises(pipeline.PipelineError):  # same inputs: the partial output is there to resume from
        pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    assert "partial.jsonl" in seen[1]
    pipeline.run_recipe(recipe, ["generate.max_new_tokens=5"], runs_dir=tmp_path / "runs")
    assert seen[2] == ["attempt.json", "cache"]  # other inputs: stale outputs cleared, content-keyed cache kept


def test_sweep_runs_once_per_value_and_plots_score_against_it(tmp_path, monkeypatch):
    def evaluate(run):
        size = run.recipe["data"]["size"]
        folder = run.stage_dir("eval")
        (folder / "summary.json").write_text(json.dumps({"models": {"sft": {"win_rate": {"value": size / 1000}}}}))
        return {}

    monkeypatch.setitem(pipeline.STAGES, "data", lambda run: {})
    monkeypatch.setitem(pipeline.STAGES, "eval", evaluate)
    recipe = write_recipe(tmp_path, "name: abl\ndata: {size: 10}\neval: {}\n")
    runs = pipeline.run_sweep(recipe, [], ["data.size=100,200"], runs_dir=tmp_path / "runs")
    assert [r.name for r in runs] == ["abl-size-100", "abl-size-200"]
    page = (tmp_path / "runs" / "abl-sweep" / "index.html").read_text()
    assert "Ablation: score vs data.size" in page and (tmp_path / "runs" / "abl-sweep" / "sweep_win_rate.png").exists()


def test_a_forced_rerun_that_fails_is_not_taken_as_complete_later(tmp_path, counting_stages, monkeypatch):
    recipe = write_recipe(tmp_path, "name: t\ndata: {}\n")
    pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    original = pipeline.STAGES["data"]
    monkeypatch.setitem(pipeline.STAGES, "data", lambda run: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(pipeline.PipelineError):
        pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs", from_stage="data")
    monkeypatch.setitem(pipeline.STAGES, "data", original)
    counting_stages.clear()
    pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    assert counting_stages == ["data"]  # the failed attempt left no 'complete' marker behind
