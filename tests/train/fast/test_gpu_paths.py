"""The GPU training defaults: what they resolve to, the memory estimate behind activation checkpointing, and (on a
CUDA machine, `pytest -m gpu`) that varlen flash attention, Liger, the bf16 LoRA base and QLoRA compute and train.

The CPU tests here pin the decisions; the gpu-marked ones run where CUDA exists (benchmarks/gpu_check.py runs them
on its GPU) and are skipped elsewhere.
"""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import chatrecipe.train.args as train_args
from chatrecipe.train import sft
from chatrecipe.train.fast.checkpointing import (activation_bytes_per_token, fit_activation_checkpointing,
                                                 longest_batch_tokens, training_memory)
from tests.train_fixtures import write_conversations

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def as_if_on_a_gpu(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr(train_args, "_bf16_supported", lambda: True)


def test_gpu_defaults_apply_on_cuda_under_the_recipes_keys(monkeypatch):
    as_if_on_a_gpu(monkeypatch)
    lora = train_args.with_defaults("sft", {})
    assert (lora["optim"], lora["dtype"], lora["use_cpu"], lora["bf16"]) == ("adamw_torch_fused", "bfloat16", False,
                                                                             True)
    assert lora["activation_checkpointing"] is False  # decided from the memory estimate once the model is loaded
    assert lora.get("use_liger_kernel", False) == (importlib.util.find_spec("liger_kernel") is not None)
    full = train_args.with_defaults("sft", {"method": "full"})
    assert "dtype" not in full  # full training keeps fp32 master weights under bf16 autocast
    assert "dtype" not in train_args.with_defaults("sft", {"bf16": False})
    assert train_args.with_defaults("rl", {})["activation_checkpointing"] is True
    assert "use_liger_kernel" not in train_args.with_defaults("rl", {})
    assert "use_liger_kernel" not in train_args.with_defaults("rm", {})
    mine = train_args.with_defaults("dpo", {"optim": "adamw_torch", "dtype": "float32", "use_liger_kernel": False,
                                            "activation_checkpointing": True})
    assert (mine["optim"], mine["dtype"], mine["use_liger_kernel"], mine["activation_checkpointing"]) == \
           ("adamw_torch", "float32", False, True)


def test_no_gpu_defaults_on_a_cpu(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    section = train_args.with_defaults("sft", {})
    assert {"optim", "dtype", "use_liger_kernel"}.isdisjoint(section)
    assert section["activation_checkpointing"] is False and section["use_cpu"] is True
    assert train_args.with_defaults("rl", {})["activation_checkpointing"] is False


def tiny_llama(dtype=torch.float32) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    return LlamaForCausalLM(config).to(dtype)


def test_training_memory_counts_weights_states_and_activations():
    model = tiny_llama()
    parameters = sum(p.numel() for p in model.parameters())
    matrices = sum(p.numel() for p in model.parameters() if p.dim() == 2)
    estimate = training_memory(model, batch_tokens=100)
    assert estimate["weights"] == 4 * parameters
    assert estimate["optimizer_and_gradients"] == (4 + 8) * parameters  # fp32 gradients + AdamW's two moments
    assert estimate["autocast_copies"] == 2 * matrices
    assert estimate["activations"] == 100 * 2 * ((22 + 14) * 32 + 8 * 64)  # fp32 residual stream, 2 layers
    assert estimate["total"] == sum(v for k, v in estimate.items() if k != "total")
    frozen = tiny_llama(torch.bfloat16)  # a LoRA base before PEFT: no states, a bf16 residual stream
    bf16 = training_memory(frozen, batch_tokens=100, frozen_base=True)
    assert bf16["optimizer_and_gradients"] == 0 and bf16["weights"] == 2 * parameters
    assert bf16["activations"] == 100 * activation_bytes_per_token(frozen.config, fp32_residual=False)
    assert activation_bytes_per_token(frozen.config, fp32_residual=False) == 2 * (22 * 32 + 8 * 64)


def test_longest_batch_is_the_longest_examples_together():
    assert longest_batch_tokens([5, 100, 7, 60, 3], 2, padded=False) == 160
    assert longest_batch_tokens([5, 100, 7, 60, 3], 2, padded=True) == 200
    assert longest_batch_tokens([], 4, padded=True) == 0


def test_checkpointing_is_left_alone_off_cuda_and_when_the_recipe_chose(monkeypatch):
    class Config:
        use_cpu, activation_checkpointing, gradient_checkpointing = False, False, False

    model = tiny_llama()
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert fit_activation_checkpointing(Config(), {}, model, 1000) is None
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert fit_activation_checkpointing(Config(), {"activation_checkpointing": False}, model, 1000) is None
    assert fit_activation_checkpointing(Config(), {"gradient_checkpointing": True}, model, 1000) is None


def test_varlen_attention_keeps_a_sliding_window():
    """Mistral attends at most `sliding_window` tokens back: a packed example or a padded row longer than that must
    not see more (the window-less fast paths apply only within it)."""
    import copy

    from transformers import MistralConfig, MistralForCausalLM

    from chatrecipe.train.fast.varlen_attention import use_varlen_attention

    torch.manual_seed(0)
    masked = MistralForCausalLM(MistralConfig(vocab_size=97, hidden_size=32, intermediate_size=64,
                                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                              sliding_window=4, attn_implementation="sdpa"))
    varlen = copy.deepcopy(masked)
    assert use_varlen_attention(varlen)
    generator = torch.Generator().manual_seed(1)
    for lengths in ((3, 4, 2), (6, 11, 4)):  # within the window, then longer than it
        cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
        inputs = {"input_ids": torch.randint(0, 97, (1, sum(lengths)), generator=generator),
                  "position_ids": torch.cat([torch.arange(n) for n in lengths])[None], "cu_seq_lens_q": cu,
                  "cu_seq_lens_k": cu, "max_length_q": max(lengths), "max_length_k": max(lengths), "use_cache": False}
        torch.testing.assert_close(varlen(**inputs).logits, masked(**inputs).logits, atol=1e-5, rtol=1e-4)
    ids = torch.randint(1, 97, (2, 9), generator=generator)
    mask = (torch.arange(9)[None] < torch.tensor([9, 7])[:, None]).long()
    real = mask.bool()
    torch.testing.assert_close(varlen(input_ids=ids, attention_mask=mask, use_cache=False).logits[real],
                               masked(input_ids=ids, attention_mask=mask, use_cache=False).logits[real],
                               atol=1e-5, rtol=1e-4)


# --- on a CUDA GPU ------------------------------------------------------------------------------------------


def packed(lengths, heads=4, kv_heads=2, dim=16, dtype=torch.bfloat16):
    generator = torch.Generator(device="cuda").manual_seed(0)
    total = sum(lengths)
    q = torch.randn(1, heads, total, dim, device="cuda", dtype=dtype, generator=generator)
    k, v = (torch.randn(1, kv_heads, total, dim, device="cuda", dtype=dtype, generator=generator) for _ in range(2))
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32, device="cuda")
    return q, k, v, cu


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_flash_varlen_equals_causal_attention_per_example(kv_heads):
    from chatrecipe.train.fast.varlen_attention import flash_varlen, flash_varlen_available

    lengths = [37, 5, 120, 64]
    q, k, v, cu = packed(lengths, kv_heads=kv_heads)
    assert flash_varlen_available(q)
    out = flash_varlen(q, k, v, cu, max(lengths), scaling=q.shape[-1] ** -0.5)
    assert out.shape == (1, sum(lengths), 4, 16)
    reference = []
    for start, end in zip(cu[:-1].tolist(), cu[1:].tolist()):
        qs, ks, vs = (t[:, :, start:end].double() for t in (q, k, v))
        ks, vs = (t.repeat_interleave(4 // kv_heads, dim=1) for t in (ks, vs))
        reference.append(torch.nn.functional.scaled_dot_product_attention(qs, ks, vs, is_causal=True))
    reference = torch.cat(reference, dim=2).transpose(1, 2)
    error = (out.double() - reference).norm() / reference.norm()
    assert error < 1e-2  # bf16 operands


def cuda_conversations(tmp_path):
    return write_conversations(tmp_path / "train.jsonl", n=8)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("method", ["lora", "full"])
def test_sft_on_cuda_with_chatrecipes_gpu_defaults(tmp_path, tiny_model_path, method):
    metrics = sft.run({"method": method, "max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1,
                       "save_strategy": "no"}, model=str(tiny_model_path), train_files=[cuda_conversations(tmp_path)],
                      output_dir=tmp_path / "out", resume=False)
    settings = metrics["settings"]
    assert math.isfinite(metrics["train_loss"]) and metrics["global_step"] == 3
    assert (settings["bf16"], settings["optim"], settings["lm_head"], settings["attention"]) == \
           (True, "adamw_torch_fused", "fused", "varlen_sdpa")
    assert settings["dtype"] == ("bfloat16" if method == "lora" else "float32")  # TRL ModelConfig's own default
    assert settings["activation_checkpointing"] is False and metrics["memory_estimate"]["activation_checkpointing"] \
        is False  # a tiny model fits
    assert settings["use_liger_kernel"] == (importlib.util.find_spec("liger_kernel") is not None)


@pytest.mark.gpu
@needs_cuda
def test_qlora_trains_on_cuda(tmp_path, tiny_model_path):
    pytest.importorskip("bitsandbytes", reason="needs bitsandbytes (pip install 'chatrecipe[qlora]')")
    from safetensors.torch import load_file

    out = tmp_path / "out"
    metrics = sft.run({"method": "qlora", "max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1,
                       "learning_rate": 1e-3, "save_strategy": "no"}, model=str(tiny_model_path),
                      train_files=[cuda_conversations(tmp_path)], output_dir=out, resume=False)
    assert math.isfinite(metrics["train_loss"])
    weights = load_file(out / "final" / "adapter_model.safetensors")
    assert any(weights[k].abs().sum() > 0 for k in weights if "lora_B" in k)


@pytest.mark.gpu
@needs_cuda
def test_local_generation_runs_on_the_card_in_bf16(tiny_model_path):
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams

    backend = load_backend(str(tiny_model_path), batch_size=4)
    assert backend.network.device.type == "cuda" and backend.describe()["dtype"] == "torch.bfloat16"
    results = backend.chat([[{"role": "user", "content": "Say hello."}]] * 3, GenerationParams(max_new_tokens=8))
    assert all(r.ok and 0 < r.completion_tokens <= 8 for r in results)
