"""Full, LoRA and QLoRA set-up in one place, and merging a LoRA adapter into a full model.

Run as: `chatrecipe models merge runs/demo/sft/final -o merged/`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def peft_config(model_config, method: str, task_type: str = "CAUSAL_LM"):
    """PEFT LoRA config from TRL's ModelConfig fields (r, alpha, dropout, target modules), or None for full."""
    if method == "full":
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=model_config.lora_r,
        lora_alpha=model_config.lora_alpha,
        lora_dropout=model_config.lora_dropout,
        target_modules=model_config.lora_target_modules or "all-linear",
        modules_to_save=model_config.lora_modules_to_save,
        use_rslora=model_config.use_rslora,
        use_dora=model_config.use_dora,
        task_type=task_type,
    )


def load_for_training(ref: str, method: str, *, model_config=None, model_class=None, **kwargs):
    """The starting model: any chatrecipe reference (a LoRA folder from an earlier stage is merged first).

    `model_config` is the section's TRL `ModelConfig`; its `dtype` and `attn_implementation` apply when set.
    Without an attention named there, the model attends with `varlen_sdpa` (train/fast/varlen_attention.py).
    """
    from chatrecipe.models import load_model
    from chatrecipe.train.fast.varlen_attention import use_varlen_attention

    dtype = getattr(model_config, "dtype", None)
    if getattr(model_config, "attn_implementation", None):
        kwargs["attn_implementation"] = model_config.attn_implementation

    if method == "qlora":
        import torch
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True)
        # 4-bit weights are quantised as they land on the GPU: load straight onto this process's card, as TRL does
        kwargs.setdefault("device_map", {"": int(os.environ.get("LOCAL_RANK", 0))})
    model = load_model(ref, dtype=dtype or "float32", model_class=model_class, **kwargs)
    if "attn_implementation" not in kwargs:
        use_varlen_attention(model)
    return model


def gpu_placement(config) -> dict:
    """`load_for_training` keywords that load a single-process CUDA run's model straight onto the card (no host copy
    of the weights: a 7B model in fp32 is 28 GB of RAM); nothing for CPU runs, several processes or ZeRO-3, where
    the trainer or DeepSpeed places the weights."""
    import torch
    from transformers.integrations import is_deepspeed_zero3_enabled

    if (config.use_cpu or not torch.cuda.is_available() or int(os.environ.get("WORLD_SIZE", "1")) != 1
            or is_deepspeed_zero3_enabled()):
        return {}
    return {"device_map": {"": torch.cuda.current_device()}}


def merge_adapter(adapter: str | Path, output: str | Path) -> Path:
    """Merge a trained LoRA adapter (and any adapters it stacks on) into a full model folder."""
    from chatrecipe.models import load_model, load_tokenizer

    adapter, output = Path(adapter), Path(output)
    if not (adapter / "adapter_config.json").exists():
        raise ValueError(f"{adapter}: not a LoRA adapter folder (no adapter_config.json)")
    model = load_model(str(adapter))  # loads the base and merges the adapter chain
    tokenizer = load_tokenizer(str(adapter))
    model.save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)
    meta_path = adapter / "chatrecipe_model.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        meta.update(merged_from=str(adapter), method="merged", base_model=None)
        (output / "chatrecipe_model.json").write_text(json.dumps(meta, indent=1))
    for extra in ("generation_config.json",):
        if (adapter / extra).exists() and not (output / extra).exists():
            shutil.copy(adapter / extra, output / extra)
    return output
