"""The training stages beyond SFT for benchmarks/gpu_check.py, a few steps each on the card: LoRA DPO, a margin reward
model, RLOO and QLoRA. Each must end with a finite loss and weights that moved (and stayed finite).
"""

from __future__ import annotations

import math
from pathlib import Path

from gpu_models import cuda, model_folders, peak_memory, write_conversations, write_pairs

def adapter_change(folder: Path) -> dict:
    """LoRA's B matrices start at zero: any non-zero B means training moved the adapter."""
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "adapter_model.safetensors"))
    b = [t.float() for name, t in tensors.items() if "lora_B" in name]
    return {"weights_changed": any(bool(t.abs().max() > 0) for t in b),
            "weights_finite": all(bool(t.isfinite().all()) for t in tensors.values()), "lora_b_tensors": len(b)}


def full_change(start: Path, final: Path) -> dict:
    """Tensors of the backbone that differ between the start and the trained model."""
    from safetensors import safe_open

    def read(folder):
        handle = {}
        for file in sorted(folder.glob("*.safetensors")):
            with safe_open(str(file), framework="pt") as f:
                handle.update({k.removeprefix("model."): f.get_tensor(k).float() for k in f.keys()})
        return handle

    before, after = read(start), read(final)
    shared = [k for k in after if k in before and before[k].shape == after[k].shape]
    changed = sum(bool((before[k] - after[k]).abs().max() > 0) for k in shared)
    return {"weights_changed": changed > 0, "tensors_changed": changed, "tensors_compared": len(shared),
            "weights_finite": all(bool(t.isfinite().all()) for t in after.values())}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def part_dpo(args) -> dict:
    """LoRA DPO: TRL's reference is the policy with its adapter switched off (no second model in memory)."""
    from chatrecipe.train import dpo

    out = args.work / "out" / "dpo"
    metrics = dpo.run({"method": "lora", "max_steps": 3, "per_device_train_batch_size": 4, "learning_rate": 1e-4,
                       "logging_steps": 1, "save_strategy": "no", **({} if cuda() else {"bf16": False})},
                      model=str(model_folders(args.work)["smollm2-360m"]),
                      train_files=[write_pairs(args.work / "pairs.jsonl", 24)], output_dir=out, resume=False)
    return {"loss": metrics["train_loss"], "loss_finite": _finite(metrics["train_loss"]),
            "reference": "adapter disabled", "lm_head": metrics.get("lm_head"),
            "rewards_accuracies": metrics.get("rewards_accuracies"), **adapter_change(out / "final"), **peak_memory()}


def part_rm(args) -> dict:
    """A full-weight margin reward model (the starter pairs carry LLaMA-2-style margins)."""
    from chatrecipe.train import reward

    start = model_folders(args.work)["smollm2-360m"]
    out = args.work / "out" / "rm"
    metrics = reward.run({"method": "full", "max_steps": 3, "per_device_train_batch_size": 4, "learning_rate": 1e-5,
                          "logging_steps": 1, "save_strategy": "no", "eval_fraction": 0.0,
                          **({} if cuda() else {"bf16": False})},
                         model=str(start), train_files=[write_pairs(args.work / "pairs-rm.jsonl", 24)],
                         output_dir=out, resume=False)
    return {"loss": metrics["train_loss"], "loss_finite": _finite(metrics["train_loss"]),
            "margins_used": metrics.get("margins_used"), "reward_accuracy": metrics.get("reward_accuracy"),
            **full_change(start, out / "final"), **peak_memory()}


def part_rl(args) -> dict:
    """RLOO with a LoRA policy against a (random) one-output reward model: generation and policy updates on CUDA."""
    from chatrecipe.train import rl

    folders = model_folders(args.work)
    out = args.work / "out" / "rl"
    metrics = rl.run({"method": "lora", "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 4,
                      "max_completion_length": 16, "learning_rate": 1e-4, "save_strategy": "no",
                      **({} if cuda() else {"bf16": False})},
                     model=str(folders["smollm2-360m"]), reward_model=str(folders["smollm2-360m-rm"]),
                     prompt_files=[write_pairs(args.work / "pairs-rl.jsonl", 16)], output_dir=out, resume=False)
    return {"loss": metrics.get("train_loss"), "loss_finite": _finite(metrics.get("train_loss")),
            "reward_last_quarter_mean": metrics.get("reward_last_quarter_mean"), **adapter_change(out / "final"),
            **peak_memory()}


def part_qlora(args) -> dict:
    """QLoRA SFT (4-bit NF4 base through bitsandbytes) for a few steps, where bitsandbytes and a GPU are present."""
    import importlib.util

    if not cuda():
        return {"skipped": "QLoRA needs a CUDA GPU (bitsandbytes' 4-bit kernels)"}
    if importlib.util.find_spec("bitsandbytes") is None:
        return {"skipped": "bitsandbytes is not installed (gpu_wheels.sh carries it when it fits in 64 MiB)"}
    from chatrecipe.train import sft

    out = args.work / "out" / "qlora"
    data = write_conversations(args.work / "sft-qlora.jsonl", 12, (1, 4))
    metrics = sft.run({"method": "qlora", "max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1,
                       "save_strategy": "no"}, model=str(model_folders(args.work)["smollm2-360m"]),
                      train_files=[data], output_dir=out, resume=False)
    return {"loss": metrics["train_loss"], "loss_finite": _finite(metrics["train_loss"]),
            **adapter_change(out / "final"), **peak_memory()}

