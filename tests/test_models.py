"""Model references: folders, GGUF files, the embedded default, hub ids offline, and the safety flags."""

from __future__ import annotations

import pytest

from chatrecipe import models
from chatrecipe.models import ModelLoadError, load_model, load_tokenizer, resolve


def test_resolve_kinds(tiny_model_path, tmp_path):
    assert resolve(str(tiny_model_path)).kind == "folder"
    assert resolve("openai:gpt-4o").kind == "openai"
    assert resolve("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    assert resolve(models.EMBEDDED).kind == "embedded"
    with pytest.raises(ModelLoadError, match="no such model folder"):
        resolve(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelLoadError, match="no such GGUF"):
        resolve(str(tmp_path / "x.gguf"))


def test_folder_loads_with_template(tiny_model_path):
    model = load_model(str(tiny_model_path))
    tokenizer = load_tokenizer(str(tiny_model_path))
    assert model.config.num_hidden_layers == 2
    assert "<|im_start|>" in tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


def test_template_less_tokenizer_gets_chatml(tiny_tokenizer):
    import copy

    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = None
    models.ensure_chat_template(tokenizer)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_hub_id_offline_names_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="huggingface-cli download"):
        load_tokenizer("chatrecipe-test/definitely-not-cached")


def test_pickled_weights_need_the_flag(tiny_model_path, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_path, folder)
    weights = folder / "model.safetensors"
    torch.save(load_file(weights), folder / "pytorch_model.bin")
    weights.unlink()
    with pytest.raises(ModelLoadError, match="--allow-pickle"):
        load_model(str(folder))
    assert load_model(str(folder), allow_pickle=True).config.num_hidden_layers == 2


@pytest.mark.slow
def test_embedded_model_converts_once_and_stops_on_im_end():
    folder = models.prepare_embedded()
    assert (folder / "model.safetensors").exists() and (folder / "chatrecipe.json").exists()
    tokenizer = load_tokenizer(models.EMBEDDED)
    model = load_model(models.EMBEDDED)
    # pad must differ from the end-of-turn token, or collators would mask the token the model learns to stop on
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.eos_token == "<|im_end|>"
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=20, do_sample=False)
    text = tokenizer.decode(output[0][inputs["input_ids"].shape[1]:])
    assert "Paris" in text and text.endswith("<|im_end|>")


def test_pickled_weights_are_refused_with_a_flag_that_exists(tmp_path, tiny_model_path):
    """A model folder with only pickled weights: a clear refusal naming --allow-pickle (no traceback); the flag
    the message names is accepted and loads it."""
    import json
    import subprocess
    import sys

    import shutil

    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"  # the layout older checkpoints have: pytorch_model.bin, no safetensors
    shutil.copytree(tiny_model_path, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question_id": 1, "category": "chat", "turns": ["Say hello."]}) + "\n")
    command = [sys.executable, "-m", "chatrecipe", "generate", "--model", str(folder), "--questions", str(questions),
               "-o", str(tmp_path / "a.jsonl"), "--max-new-tokens", "4"]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--allow-pickle" in refused.stderr and "safetensors" in refused.stderr
    allowed = subprocess.run([*command, "--allow-pickle"], capture_output=True, text=True)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])["question_id"] == 1
