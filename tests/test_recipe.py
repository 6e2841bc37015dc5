"""Recipe parsing: defaults < YAML < --set; unknown keys and wrong types fail before any work, naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from chatrecipe.recipe import RecipeError, load_recipe, parse_section


@dataclass
class Args:
    lr: float = 1e-4
    epochs: int = 3
    method: str = "lora"
    targets: list[str] = field(default_factory=list)
    limit: Optional[int] = None
    flag: bool = False


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_overrides_win_over_file(tmp_path):
    recipe = load_recipe(write(tmp_path, "sft:\n  lr: 0.1\n"), ["sft.epochs=5", "sft.targets=[q_proj,v_proj]"])
    (args,) = parse_section(recipe["sft"], Args, where="sft")
    assert (args.lr, args.epochs, args.targets, args.method) == (0.1, 5, ["q_proj", "v_proj"], "lora")
    assert recipe["name"] == "r" and recipe["seed"] == 42


@pytest.mark.parametrize("section, message", [
    ({"lrr": 1}, "unknown key(s) 'lrr'"),
    ({"epochs": "three"}, "sft.epochs: 'three' is not a valid int"),
    ({"flag": "yes"}, "sft.flag"),
    ({"targets": "q_proj"}, "sft.targets"),
])
def test_bad_sections_name_the_key(section, message):
    with pytest.raises(RecipeError) as info:
        parse_section(section, Args, where="sft")
    assert message in str(info.value)


def test_unknown_top_level_key_and_bad_yaml(tmp_path):
    with pytest.raises(RecipeError, match="unknown key"):
        load_recipe(write(tmp_path, "sftt: {}\n"))
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(write(tmp_path, "a: [\n"))
    with pytest.raises(RecipeError, match="key=value"):
        load_recipe(write(tmp_path, "sft: {}\n"), ["sft.lr"])


def test_yaml_tags_that_run_code_are_refused(tmp_path):
    with pytest.raises(RecipeError):
        load_recipe(write(tmp_path, "sft: !!python/object/apply:os.system ['true']\n"))
