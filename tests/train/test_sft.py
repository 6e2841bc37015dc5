"""SFT on TRL with a tiny model: loss finite, weights change, end-of-turn trained, bad input refused early."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from chatrecipe.recipe import RecipeError
from chatrecipe.train import sft
from chatrecipe.train.outputs import TrainingInputError
from tests.train_fixtures import write_conversations

FAST = {"max_steps": 3, "per_device_train_batch_size": 2, "logging_steps": 1, "save_steps": 2,
        "learning_rate": 1e-2, "bf16": False, "activation_checkpointing": False}


@pytest.mark.parametrize("method", ["lora", "full"])
def test_sft_trains_and_saves(tmp_path, tiny_model_path, method):
    data = write_conversations(tmp_path / "train.jsonl")
    out = tmp_path / "out"
    metrics = sft.run({**FAST, "method": method}, model=str(tiny_model_path), train_files=[data], output_dir=out)
    assert metrics["global_step"] == 3 and torch.isfinite(torch.tensor(metrics["train_loss"]))
    final = out / "final"
    meta = json.loads((final / "chatrecipe_model.json").read_text())
    assert meta["method"] == method and meta["stop_tokens"] == ["<|im_end|>"]
    assert (out / "loss.png").exists() and (out / "log_history.json").exists()
    if method == "lora":
        assert (final / "adapter_config.json").exists()
        weights = load_file(final / "adapter_model.safetensors")
        assert any(k for k in weights if "lora_B" in k and weights[k].abs().sum() > 0)  # B starts at zero
    else:
        before, after = load_file(tiny_model_path / "model.safetensors"), load_file(final / "model.safetensors")
        assert any(not torch.equal(before[k], after[k]) for k in before if k in after)
    # the saved tokenizer carries the generation template (no generation markers)
    assert "generation" not in json.loads((final / "tokenizer_config.json").read_text()).get("chat_template", "")


def test_bad_inputs_fail_before_training(tmp_path, tiny_model_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "only a question"}]}) + "\n")
    with pytest.raises(TrainingInputError, match="no valid conversation records"):
        sft.run(FAST, model=str(tiny_model_path), train_files=[bad], output_dir=tmp_path / "a")
    assert "end with an assistant turn" in (tmp_path / "a" / "train.rejected.jsonl").read_text()
    data = write_conversations(tmp_path / "train.jsonl")
    with pytest.raises(TrainingInputError, match="longer than max_length"):
        sft.run({**FAST, "max_length": 4}, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "b")
    with pytest.raises(RecipeError, match="qlora needs a CUDA GPU"):
        sft.run({**FAST, "method": "qlora"}, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "c")
    with pytest.raises(RecipeError, match="unknown key"):
        sft.run({**FAST, "lerning_rate": 1}, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "d")
    with pytest.raises(TrainingInputError, match="no such checkpoint"):
        sft.run(FAST, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "e",
                resume=str(tmp_path / "nope"))


def test_a_template_file_replaces_the_models_template(tmp_path, tiny_model_path):
    """`chat_template_path: recipes/templates/zephyr.jinja` (the Zephyr recipe's): trained with its markers, saved
    without them."""
    from pathlib import Path

    template = Path(__file__).resolve().parents[2] / "recipes" / "templates" / "zephyr.jinja"
    out = tmp_path / "out"
    metrics = sft.run({**FAST, "chat_template_path": str(template)}, model=str(tiny_model_path),
                      train_files=[write_conversations(tmp_path / "train.jsonl")], output_dir=out)
    assert torch.isfinite(torch.tensor(metrics["train_loss"]))
    saved = (out / "final" / "chat_template.jinja").read_text()
    assert saved.startswith("{% for message in messages %}") and "<|assistant|>" in saved
    assert "generation %}" not in saved
