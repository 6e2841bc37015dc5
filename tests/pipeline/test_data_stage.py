"""The data stage reads any format `data convert` reads, with the recipe's `convert_options`, and the report says
which formats the rows came in."""

from __future__ import annotations

import json
from pathlib import Path

from chatrecipe.pipeline.data import DataArgs, prepare_data

FIXTURES = Path(__file__).parents[1] / "data" / "fixtures"


def test_data_stage_pairs_helpsteer2_by_the_recipes_attribute(tmp_path, tiny_model_path):
    args = DataArgs(sft_files=[str(FIXTURES / "capybara.jsonl"), str(FIXTURES / "trl-prompt-completion.jsonl")],
                    preference_files=[str(FIXTURES / "helpsteer2.jsonl")], convert_options={"attribute": "correctness"},
                    dedup=False, decontaminate=False, max_tokens=None, target_mix=None)
    out = tmp_path / "data"
    out.mkdir()
    result = prepare_data(args, model=str(tiny_model_path), output_dir=out, seed=0, extra_sft=[],
                          extra_preferences=[])
    metrics = result["metrics"]
    assert metrics["preferences"]["formats"] == {"helpsteer2": 7} and metrics["preferences"]["kept"] == 3
    assert metrics["sft"]["formats"] == {"capybara": 3, "prompt-completion": 4} and metrics["sft"]["kept"] == 5
    pairs = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert {p["metadata"]["attribute"] for p in pairs} == {"correctness"}
    tables = {t["title"]: t for t in json.loads((out / "report.json").read_text())["tables"]}
    assert tables["Input formats (detected per file, per row in mixed files)"]["rows"] == [
        ["sft", "capybara", 3], ["sft", "prompt-completion", 4], ["preferences", "helpsteer2", 7]]
