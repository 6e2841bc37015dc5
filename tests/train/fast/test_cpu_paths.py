"""The CPU fast paths of training compute exactly what TRL's and transformers' own paths compute.

`lm_head: logits` (train/fast/logits_head.py) must give TRL's loss code the same per-token log-probabilities, metrics and
gradients as TRL's fused head; `varlen_sdpa` (train/fast/varlen_attention.py) must give the same activations and
gradients as SDPA over the block-diagonal or padding mask at every real token, and change nothing for left-padded
batches or generation.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from trl.trainer.utils import add_fused_lm_head

from chatrecipe.recipe import RecipeError
from chatrecipe.train import dpo, reward, sft
from chatrecipe.train.fast.logits_head import supports_logits_head, use_logits_head, wants_logits_head
from chatrecipe.train.fast.varlen_attention import is_right_padding_mask, unpad_right_padded, use_varlen_attention
from tests.train_fixtures import write_conversations, write_preferences

ALL_OUTPUTS = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def tiny_llama(**overrides) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, attn_implementation="sdpa", **overrides)
    return LlamaForCausalLM(config)


def packed_batch(lengths=(5, 9, 3), prompt=2):
    """One padding-free row as TRL's collator builds it: labels -100 on prompts and at each sequence start."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 97, (1, sum(lengths)), generator=generator)
    position_ids = torch.cat([torch.arange(n) for n in lengths])[None]
    labels = input_ids.clone()
    labels[position_ids < prompt] = -100
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    return {"input_ids": input_ids, "position_ids": position_ids, "cu_seq_lens_q": cu, "cu_seq_lens_k": cu,
            "max_length_q": max(lengths), "max_length_k": max(lengths),
            "use_cache": False}, labels  # as TRL sends it: with a cache, transformers skips the packed-sequence mask


def right_padded_batch(lengths=(7, 4, 9), prompt=2):
    """A batch as TRL's DPO collator builds it: right-padded, with an attention mask; labels -100 on prompt and pad."""
    generator = torch.Generator().manual_seed(2)
    input_ids = torch.randint(1, 97, (len(lengths), max(lengths)), generator=generator)
    attention_mask = (torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]).long()
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[:, :prompt] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "use_cache": False}, labels


def grads(model) -> dict:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("batch", ["packed", "right-padded"])
def test_logits_head_matches_trl_fused_head(autocast, batch):
    """Right-padded batches also check the unpadding: the backbone then runs on one packed row of real tokens."""
    fused = tiny_llama()
    plain = copy.deepcopy(fused)
    use_varlen_attention(plain)
    add_fused_lm_head(fused, outputs=ALL_OUTPUTS)
    add_fused_lm_head(plain, outputs=ALL_OUTPUTS)
    assert use_logits_head(plain)
    inputs, labels = packed_batch() if batch == "packed" else right_padded_batch()
    results = []
    for model in (fused, plain):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(**inputs, labels=labels, fused_lm_head=True, num_items_in_batch=11)
        out.loss.backward()
        results.append((out, grads(model)))
    (a, grads_a), (b, grads_b) = results
    tolerance = {"atol": 2e-2, "rtol": 2e-2} if autocast else {"atol": 1e-5, "rtol": 1e-4}
    torch.testing.assert_close(b.loss, a.loss, **tolerance)
    for name in ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name), **tolerance)
    assert torch.equal(b.label_mask, a.label_mask) and b.label_mask.sum() == (labels[:, 1:] != -100).sum()
    if not autocast:  # under bf16 an argmax can flip between near-equal logits
        assert torch.equal(b.is_top1, a.is_top1)
    assert (b.log_probs[~b.label_mask] == 0).all()  # unscored positions are zero, as TRL's loss code expects
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], **tolerance)


def test_logits_head_leaves_other_calls_alone():
    model = tiny_llama()
    add_fused_lm_head(model)
    before = model(input_ids=torch.tensor([[1, 2, 3]])).logits
    assert use_logits_head(model)
    assert torch.equal(model(input_ids=torch.tensor([[1, 2, 3]])).logits, before)
    shifted = torch.tensor([[2, 3, -100]])  # pre-shifted labels, as under context parallelism
    out = model(input_ids=torch.tensor([[1, 2, 3]]), shift_labels=shifted, fused_lm_head=True)
    expected = before[0, :2].log_softmax(-1).gather(-1, torch.tensor([[2], [3]])).squeeze(-1)
    torch.testing.assert_close(out.log_probs[0, :2], expected)
    assert out.log_probs.shape == (1, 3)


def test_models_with_scaled_logits_keep_trl_head():
    assert supports_logits_head(tiny_llama())
    capped = tiny_llama()
    capped.config.final_logit_softcapping = 30.0
    assert not supports_logits_head(capped) and not use_logits_head(capped)
    assert wants_logits_head("auto", "cpu") and not wants_logits_head("auto", "cuda")
    assert wants_logits_head("logits", "cuda") and not wants_logits_head("fused", "cpu")
    with pytest.raises(RecipeError, match="use one of auto, logits, fused"):
        wants_logits_head("fast", "cpu")


def test_varlen_attention_matches_masked_sdpa_on_packed_rows():
    masked = tiny_llama()
    varlen = copy.deepcopy(masked)
    assert use_varlen_attention(varlen) and varlen.config._attn_implementation == "varlen_sdpa"
    inputs, labels = packed_batch(lengths=(6, 11, 4))
    for model in (masked, varlen):
        model(**inputs, labels=labels).loss.backward()
    torch.testing.assert_close(varlen(**inputs).logits, masked(**inputs).logits, atol=1e-6, rtol=1e-5)
    for name, grad in grads(masked).items():
        torch.testing.assert_close(grads(varlen)[name], grad, atol=1e-6, rtol=1e-5)
    # each example alone gives the same logits: nothing leaks across the packed boundary
    bounds = inputs["cu_seq_lens_q"].tolist()
    alone = torch.cat([masked(input_ids=inputs["input_ids"][:, s:e]).logits for s, e in zip(bounds, bounds[1:])], 1)
    torch.testing.assert_close(varlen(**inputs).logits, alone, atol=1e-5, rtol=1e-4)


def test_varlen_attention_drops_only_a_right_padding_mask():
    masked = tiny_llama()
    varlen = copy.deepcopy(masked)
    use_varlen_attention(varlen)
    ids = torch.tensor([[5, 6, 7, 8, 9], [9, 10, 11, 0, 0], [12, 13, 0, 0, 0]])
    right = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
    real = right.bool()
    labels = ids.masked_fill(~real, -100)
    for model in (masked, varlen):
        model(input_ids=ids, attention_mask=right, labels=labels, use_cache=False).loss.backward()
    out_masked = masked(input_ids=ids, attention_mask=right, use_cache=False).logits
    out_varlen = varlen(input_ids=ids, attention_mask=right, use_cache=False).logits
    torch.testing.assert_close(out_varlen[real], out_masked[real], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(out_varlen[~real], out_masked[~real])  # padding rows did change: the mask was dropped
    for name, grad in grads(masked).items():
        torch.testing.assert_close(grads(varlen)[name], grad, atol=1e-6, rtol=1e-5)
    # left padding (generation) keeps its mask, and generation is unchanged
    left = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    torch.testing.assert_close(varlen(input_ids=ids[:2], attention_mask=left).logits,
                               masked(input_ids=ids[:2], attention_mask=left).logits)
    prompt = torch.tensor([[3, 4, 5]])
    assert torch.equal(varlen.generate(prompt, max_new_tokens=5, do_sample=False),
                       masked.generate(prompt, max_new_tokens=5, do_sample=False))
    model = tiny_llama()
    model.set_attn_implementation("eager")
    assert not use_varlen_attention(model) and model.config._attn_implementation == "eager"


def test_unpadding_packs_real_tokens_and_puts_them_back():
    inputs, _ = right_padded_batch(lengths=(3, 5, 2))
    packed, repad = unpad_right_padded(inputs)
    assert packed["attention_mask"] is None and packed["input_ids"].shape == (1, 10)
    assert packed["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 3, 4, 0, 1]]
    assert packed["cu_seq_lens_q"].tolist() == [0, 3, 8, 10] and packed["max_length_q"] == 5
    hidden = packed["input_ids"][..., None].float()
    assert torch.equal(repad(hidden)[..., 0], inputs["input_ids"].float())  # padding comes back as zeros
    left = {**inputs, "attention_mask": inputs["attention_mask"].flip(-1)}
    assert unpad_right_padded(left) is None
    assert unpad_right_padded({**inputs, "attention_mask": torch.ones_like(inputs["attention_mask"])}) is None
    assert unpad_right_padded({**inputs, "position_ids": packed["position_ids"]}) is None


def test_right_padding_mask_check():
    from transformers.masking_utils import sdpa_mask

    def mask(attention_mask):
        length = attention_mask.shape[1]
        return sdpa_mask(batch_size=attention_mask.shape[0], q_length=length, kv_length=length,
                         attention_mask=attention_mask.bool(), allow_is_causal_skip=False)

    assert is_right_padding_mask(mask(torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])))
    assert not is_right_padding_mask(mask(torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]])))  # left padding
    assert not is_right_padding_mask(mask(torch.tensor([[1, 0, 1, 1], [1, 1, 1, 1]])))  # a hole
    assert not is_right_padding_mask(torch.ones(1, 1, 3, 3, dtype=torch.bool))  # not causal
    assert not is_right_padding_mask(None) and not is_right_padding_mask(torch.zeros(1, 1, 3, 3))


def test_sft_fast_paths_train_like_trl(tmp_path, tiny_model_path):
    """Same data, seed and settings: TRL's fused head with masked SDPA and chatrecipe's CPU paths log the same losses."""
    data = write_conversations(tmp_path / "train.jsonl", n=8)
    section = {"method": "full", "max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1,
               "learning_rate": 1e-3, "bf16": False, "activation_checkpointing": False, "save_strategy": "no"}
    runs = {}
    trl_paths = {"lm_head": "fused", "attn_implementation": "sdpa"}
    for head, paths in (("fused", trl_paths), ("logits", {})):
        out = tmp_path / head
        metrics = sft.run({**section, **paths}, model=str(tiny_model_path), train_files=[data], output_dir=out)
        runs[head] = metrics
        history = json.loads((out / "log_history.json").read_text())
        runs[head]["losses"] = [h["loss"] for h in history if "loss" in h]
        runs[head]["accuracy"] = [h["mean_token_accuracy"] for h in history if "mean_token_accuracy" in h]
        assert "varlen_sdpa" not in (out / "final" / "config.json").read_text()  # saved models load anywhere
    assert runs["fused"]["settings"]["lm_head"] == "fused" and runs["logits"]["settings"]["lm_head"] == "logits"
    assert runs["fused"]["settings"]["attention"] == "sdpa"
    assert runs["logits"]["settings"]["attention"] == "varlen_sdpa"
    assert len(runs["logits"]["losses"]) == 3
    torch.testing.assert_close(torch.tensor(runs["logits"]["losses"]), torch.tensor(runs["fused"]["losses"]),
                               atol=1e-3, rtol=1e-3)
    assert runs["logits"]["accuracy"] == pytest.approx(runs["fused"]["accuracy"], abs=1e-6)
    with pytest.raises(RecipeError, match="lm_head 'fast'"):
        sft.run({**section, "lm_head": "fast"}, model=str(tiny_model_path), train_files=[data],
                output_dir=tmp_path / "bad")


@pytest.mark.parametrize("stage,method", [("dpo", "lora"), ("dpo", "full"), ("rm", "lora")])
def test_preference_training_on_fast_paths_matches_trl_paths(tmp_path, tiny_model_path, stage, method):
    """Right-padded pairs: TRL's head and masked SDPA vs chatrecipe's defaults give the same losses and rewards
    (full DPO also has a separate reference model with its own head)."""
    data = write_preferences(tmp_path / "pairs.jsonl", n=8)
    section = {"method": method, "max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1,
               "learning_rate": 1e-2, "bf16": False, "activation_checkpointing": False, "save_strategy": "no"}
    trl_paths = {"attn_implementation": "sdpa", **({"lm_head": "fused"} if stage == "dpo" else {})}
    logged = {}
    for name, paths in (("trl", trl_paths), ("ours", {})):
        out = tmp_path / name
        (dpo if stage == "dpo" else reward).run({**section, **paths}, model=str(tiny_model_path), train_files=[data],
                                                output_dir=out)
        history = json.loads((out / "log_history.json").read_text())
        logged[name] = torch.tensor([[h[k] for k in sorted(h) if k.startswith(("loss", "rewards/", "accuracy"))]
                                     for h in history if "loss" in h])
    assert logged["ours"].shape[0] == 3 and logged["ours"].shape == logged["trl"].shape
    torch.testing.assert_close(logged["ours"], logged["trl"], atol=1e-4, rtol=1e-4)


def test_keep_freed_memory_tunes_glibc_only_when_asked():
    import platform

    from chatrecipe.train.fast.cpu_allocator import keep_freed_memory

    assert keep_freed_memory(False) is False
    assert keep_freed_memory(True) is (platform.libc_ver()[0] == "glibc")
