"""Every shipped recipe parses: each section's keys and types are valid for its stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatrecipe.pipeline.runner import validate_recipe

RECIPES = sorted(Path(__file__).resolve().parent.parent.joinpath("recipes").glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_parses(recipe, monkeypatch):
    import chatrecipe.train.args as train_args

    monkeypatch.setattr(train_args, "_bf16_supported", lambda: True)  # GPU recipes ask for bf16
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    stages = validate_recipe(recipe, ["sft.use_cpu=true"] if "gpu" in recipe.name else [])
    assert stages


def test_there_are_recipes():
    assert {"demo.yaml"} <= {p.name for p in RECIPES}
