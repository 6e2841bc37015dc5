"""The data stage: the shipped starter sets stand in only when a recipe names no data at all, and say so; naming
any file replaces them, and a training stage left without data is refused before any work. It reads any format
`data convert` reads, with the recipe's `convert_options`, and the report says which formats the rows came in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatrecipe.data.records import read_jsonl
from chatrecipe.pipeline.data import DataArgs, prepare_data
from chatrecipe.pipeline.runner import run_recipe
from chatrecipe.recipe import RecipeError
from chatrecipe.train.launch import resolve
from tests.train_fixtures import write_conversations, write_preferences

FIXTURES = Path(__file__).parents[1] / "data" / "fixtures"


def _recipe(tmp_path, model, data: str, extra: str = "") -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: t\nmodel: {{name: {model}}}\ndata: {data}\n{extra}")
    return str(path)


def _data(tmp_path, model, data: str) -> tuple:
    run_dir = run_recipe(_recipe(tmp_path, model, "{decontaminate: false, " + data + "}"), runs_dir=tmp_path / "runs")
    section = json.loads((run_dir / "data" / "report.json").read_text())
    return run_dir, section


def test_own_sft_files_get_no_starter_pairs_mixed_in(tmp_path, tiny_model_path):
    sft = write_conversations(tmp_path / "sft.jsonl")
    pairs = write_preferences(tmp_path / "pairs.jsonl")
    run_dir, section = _data(tmp_path, tiny_model_path, f"sft_files: [{sft}], preference_files: [{pairs}]")
    kept = read_jsonl(run_dir / "data" / "preferences.jsonl")
    assert len(kept) == 8 and not any(r.get("source") == "chatrecipe-starter" for r in kept)
    assert not any("starter" in w for w in section["warnings"])


def test_a_training_stage_without_its_data_is_refused(tmp_path, tiny_model_path):
    sft = write_conversations(tmp_path / "sft.jsonl")
    with pytest.raises(RecipeError, match="no data.preference_files"):
        run_recipe(_recipe(tmp_path, tiny_model_path, f"{{sft_files: [{sft}]}}", "dpo: {max_steps: 1}\n"),
                   runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs" / "t" / "dpo").exists()  # refused before training started
    with pytest.raises(RecipeError, match="no data.preference_files"):
        resolve("dpo", _recipe(tmp_path, tiny_model_path, f"{{sft_files: [{sft}]}}"))


def test_no_data_named_means_the_starter_sets_and_says_so(tmp_path, tiny_model_path, capfd):
    run_dir, section = _data(tmp_path, tiny_model_path, "max_tokens: null")
    assert "starter sets" in capfd.readouterr().err
    assert any(w.startswith("The recipe names no data") for w in section["warnings"])
    assert read_jsonl(run_dir / "data" / "preferences.jsonl")[0]["source"] == "chatrecipe-starter"
    job = resolve("dpo", _recipe(tmp_path, tiny_model_path, "{}"))
    assert [f.name for f in job.files] == ["preferences.jsonl"] and "starter" in str(job.files[0])


def test_data_stage_pairs_helpsteer2_by_the_recipes_attribute(tmp_path, tiny_model_path):
    args = DataArgs(sft_files=[str(FIXTURES / "capybara.jsonl"), str(FIXTURES / "trl-prompt-completion.jsonl")],
                    preference_files=[str(FIXTURES / "helpsteer2.jsonl")], convert_options={"attribute": "correctness"},
                    dedup=False, decontaminate=False, max_tokens=None, target_mix=None)
    out = tmp_path / "data"
    out.mkdir()
    result = prepare_data(args, model=str(tiny_model_path), output_dir=out, seed=0, sft_files=args.sft_files,
                          preference_files=args.preference_files)
    metrics = result["metrics"]
    assert metrics["preferences"]["formats"] == {"helpsteer2": 7} and metrics["preferences"]["kept"] == 3
    assert metrics["sft"]["formats"] == {"capybara": 3, "prompt-completion": 4} and metrics["sft"]["kept"] == 5
    pairs = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert {p["metadata"]["attribute"] for p in pairs} == {"correctness"}
    tables = {t["title"]: t for t in json.loads((out / "report.json").read_text())["tables"]}
    assert tables["Input formats (detected per file, per row in mixed files)"]["rows"] == [
        ["sft", "capybara", 3], ["sft", "prompt-completion", 4], ["preferences", "helpsteer2", 7]]


def test_a_data_size_the_data_cannot_give_is_refused(tmp_path, tiny_model_path):
    """`data.size` (dataset-size ablations): a size above what is left after cleaning would train on fewer records
    than the run's name and report say, so every point of a sweep past it would be the same run."""
    sft = write_conversations(tmp_path / "sft.jsonl")
    args = DataArgs(sft_files=[str(sft)], dedup=False, decontaminate=False, max_tokens=None, target_mix=None,
                    classify=False, size=1000)
    out = tmp_path / "data"
    out.mkdir()
    available = len(read_jsonl(sft))
    with pytest.raises(RecipeError, match=f"data.size is 1000 but only {available} SFT conversations are left"):
        prepare_data(args, model=str(tiny_model_path), output_dir=out, seed=0, sft_files=args.sft_files,
                     preference_files=[])
    args.size = available - 1
    result = prepare_data(args, model=str(tiny_model_path), output_dir=out, seed=0, sft_files=args.sft_files,
                          preference_files=[])
    assert result["metrics"]["sft"]["kept"] == available - 1


def test_every_content_filter_has_its_own_recipe_switch(tmp_path, tiny_model_path):
    """data.refusals / placeholders / pair_refusals switch the filters one by one; before, the only way to keep SFT
    refusals was max_tokens: null, which silently turned every filter off with the length limit."""
    sft = tmp_path / "sft.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": text}]}
            for i, text in enumerate(["I'm sorry, but I can't help with that.", "N/A", "Paris is the capital.",
                                      "Water boils at 100 degrees Celsius at sea level."])]
    sft.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": [{"role": "user", "content": q}],
                                         "chosen": [{"role": "assistant", "content": "I can't help with that."}],
                                         "rejected": [{"role": "assistant", "content": r}]}) + "\n"
                             for q, r in (("How do I pick a lock?", "Insert a tension wrench and rake the pins."),
                                          ("How do I steal a car?", "I cannot assist with that request."))))

    def kept(**switches) -> dict:
        args = DataArgs(sft_files=[str(sft)], preference_files=[str(pairs)], dedup=False, decontaminate=False,
                        target_mix=None, classify=False, **switches)
        out = tmp_path / "data"
        out.mkdir(exist_ok=True)
        metrics = prepare_data(args, model=str(tiny_model_path), output_dir=out, seed=0, sft_files=args.sft_files,
                               preference_files=args.preference_files)["metrics"]
        return {name: (m["kept"], m["filtered_by"]) for name, m in metrics.items()}

    assert kept() == {"sft": (2, {"refusal": 1, "placeholder": 1}), "preferences": (2, {})}
    assert kept(max_tokens=None) == kept()  # no length limit, the content filters still run
    assert kept(refusals=False)["sft"] == (3, {"placeholder": 1})
    assert kept(placeholders=False, refusals=False)["sft"] == (4, {})
    assert kept(pair_refusals="both")["preferences"] == (1, {"pair_refusal": 1})
    with pytest.raises(RecipeError, match="data.pair_refusals: 'some' is not one of off, both, rejected"):
        kept(pair_refusals="some")
