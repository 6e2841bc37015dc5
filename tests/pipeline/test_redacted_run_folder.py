"""A recipe's endpoint credentials (a `base_url` with user:password@ or ?api-key=) and any error that quotes them
never reach the run folder: recipe.yaml and manifest.json hold the redacted URL."""

from __future__ import annotations

import pytest

from chatrecipe.pipeline import runner as pipeline

SECRET_URL = "http://annot:hunter2@gw.internal:8080/v1?api-key=sk-secret-42&api-version=1"


def test_recipe_and_manifest_hold_no_credentials(tmp_path, monkeypatch):
    def failing(run):  # a real stage body would fail the same way when the endpoint refuses
        raise ConnectionError(f"cannot reach {run.recipe['synth']['base_url']}")

    for name in pipeline.FLOW:
        monkeypatch.setitem(pipeline.STAGES, name, failing)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: t\nsynth:\n  generator: openai:gen\n  base_url: '{SECRET_URL}'\n"
                      "  self_instruct: {}\n")
    with pytest.raises(pipeline.PipelineError, match="cannot reach"):
        pipeline.run_recipe(recipe, runs_dir=tmp_path / "runs")
    run_dir = tmp_path / "runs" / "t"
    written = {p.name: p.read_text() for p in run_dir.rglob("*") if p.is_file()}
    assert {"recipe.yaml", "manifest.json"} <= set(written)
    assert [name for name, text in written.items() if "hunter2" in text or "sk-secret-42" in text] == []
    assert "http://annot:***@gw.internal:8080/v1?api-key=***&api-version=1" in written["recipe.yaml"]
    assert "cannot reach http://annot:***@gw.internal" in written["manifest.json"]
