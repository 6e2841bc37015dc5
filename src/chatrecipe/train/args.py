"""Recipe sections of the training stages: TRL's own configs unchanged, plus a few chatrecipe keys.

A training section's keys are the union of a TRL config (`SFTConfig`, `RewardConfig`, `DPOConfig`, `RLOOConfig`),
TRL's `ModelConfig` (PEFT and quantisation fields: `lora_r`, `lora_alpha`, `lora_target_modules`,
`load_in_4bit`, ...) and `TrainArgs` below, so every TRL field works and TRL's documentation applies.
chatrecipe changes a few defaults for speed on CPUs (see the README's "Speed on a CPU" and benchmarks/bench_sft.py:
LoRA dropout 0, no pad compute, the plain-logits LM head, no activation checkpointing, glibc keeping freed memory)
and on CUDA GPUs (README "Speed on a GPU", benchmarks/gpu_check.py: varlen flash attention on padding-free rows,
Liger kernels when installed, a bf16 LoRA base, fused AdamW, activation checkpointing only where memory needs it);
anything the recipe sets wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

METHODS = ("full", "lora", "qlora")

# chatrecipe's defaults, applied under the recipe's own keys
COMMON_DEFAULTS = {
    "report_to": "none",
    "logging_steps": 5,
    "save_strategy": "steps",
    "save_steps": 20,
    "save_total_limit": 2,
    "lora_dropout": 0.0,
    "lora_r": 16,
    "lora_alpha": 32,
    "lr_scheduler_type": "cosine",
    "disable_tqdm": False,
    "use_cpu": None,
}
STAGE_DEFAULTS = {
    "sft": {"assistant_only_loss": True, "padding_free": True, "max_length": 1024, "learning_rate": 2e-4},
    # a reward model's accuracy is only meaningful on pairs it did not train on
    "rm": {"max_length": 1024, "learning_rate": 1e-4, "eval_fraction": 0.15},
    "dpo": {"max_length": 1024, "learning_rate": 5e-5},
    # RLOO's advantage is a completion's reward minus the mean of the others: it needs several per prompt
    "rl": {"learning_rate": 1e-5, "num_generations": 4, "max_completion_length": 64, "per_device_train_batch_size": 4,
           "logging_steps": 1},
}
# chatrecipe's defaults on a CUDA GPU, under the recipe's own keys too (README "Speed on a GPU";
# benchmarks/gpu_check.py measures them against TRL's): see gpu_defaults()
GPU_DEFAULTS = {"optim": "adamw_torch_fused"}
# causal LMs in training: RL's time goes to generation, and a reward model's classification head is not a case
# Liger's patches are built for
LIGER_STAGES = ("sft", "dpo")


@dataclass
class TrainArgs:
    """chatrecipe's own keys of a training section."""

    method: str = "lora"
    """full | lora | qlora (4-bit NF4 through bitsandbytes; needs a CUDA GPU)."""
    eval_fraction: float = 0.0
    """Hold out this share of the training file for evaluation during training (RM accuracy is measured on it)."""
    keep_freed_memory: bool = True
    """On a CPU, have glibc keep freed blocks for the next step instead of page-faulting them back in (about 1.1x;
    see train/fast/cpu_allocator.py). Process-wide once set."""
    lm_head: str = "auto"
    """SFT and DPO: how per-token log-probabilities are computed. `fused` is TRL's chunked LM head (no full logits;
    the right choice on a GPU), `logits` projects only the scored positions and takes a plain log-softmax (about 4x
    cheaper on this CPU, see train/fast/logits_head.py), `auto` picks `logits` on a CPU and `fused` elsewhere."""


@dataclass
class RewardArgs(TrainArgs):
    """chatrecipe's own keys of the `rm:` section."""

    test_sets: list[str] = field(default_factory=list)
    """Preference test sets (files or shipped `rm:` sets) scored during training; the curve goes to rm_eval.jsonl."""
    test_eval_steps: int = 0
    """Score the test sets every this many steps (0: only at the start and the end of training)."""


def config_classes(stage: str) -> tuple:
    """The dataclasses a training section is parsed with (TRL config, TRL ModelConfig, TrainArgs)."""
    from trl import DPOConfig, ModelConfig, RewardConfig, RLOOConfig, SFTConfig

    trl_config = {"sft": SFTConfig, "rm": RewardConfig, "dpo": DPOConfig, "rl": RLOOConfig}[stage]
    return trl_config, ModelConfig, RewardArgs if stage == "rm" else TrainArgs


def with_defaults(stage: str, section: dict) -> dict:
    """The section with chatrecipe's defaults under it (the recipe's own keys win)."""
    import torch

    merged = {**COMMON_DEFAULTS, **STAGE_DEFAULTS[stage], **(section or {})}
    if merged.get("use_cpu") is None:
        merged["use_cpu"] = not torch.cuda.is_available()
    if "bf16" not in (section or {}):
        merged["bf16"] = _bf16_supported()
    if not merged["use_cpu"] and torch.cuda.is_available():
        merged = {**gpu_defaults(stage, merged), **merged}
    if not {"activation_checkpointing", "gradient_checkpointing"} & set(section or {}):
        # Recomputing activations trades compute for memory: a 1.2x slowdown on a CPU, whose RAM holds the
        # activations of any model it can train in reasonable time; on a GPU SFT, DPO and RM start without it and
        # turn it on only when the step would not fit (train/fast/checkpointing.py); RL keeps it on a GPU
        merged["activation_checkpointing"] = stage == "rl" and torch.cuda.is_available()
    return {k: v for k, v in merged.items() if v is not None}


def gpu_defaults(stage: str, section: dict) -> dict:
    """What chatrecipe sets on a CUDA GPU where the recipe does not: fused AdamW; for SFT and DPO, Liger's Triton
    kernels (RMSNorm, RoPE, SwiGLU) when `liger-kernel` is installed (`pip install 'chatrecipe[gpu]'`); and a
    LoRA/QLoRA base loaded in bf16 under bf16 training (frozen weights need no fp32 master copy: half the memory,
    and no per-step cast of every weight to bf16)."""
    import importlib.util

    defaults = dict(GPU_DEFAULTS)
    if stage in LIGER_STAGES and importlib.util.find_spec("liger_kernel") is not None:
        defaults["use_liger_kernel"] = True
    if section.get("method", TrainArgs.method) in ("lora", "qlora") and section.get("bf16"):
        defaults["dtype"] = "bfloat16"
    return defaults


def _bf16_supported() -> bool:
    """bf16 autocast where the hardware does it natively: a CUDA GPU with bf16, or a CPU with AVX512-BF16/AMX."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def start_stage(stage: str, section: dict | None, output_dir: Path, seed: int, resume: bool | str = True):
    """Every training stage's first steps: parse its section with chatrecipe's defaults under it, refuse what the
    machine cannot run, tune the CPU allocator, seed the process (so fresh weights — a reward model's head, LoRA's A
    matrices — start the same for the same recipe seed), and find the checkpoint to resume from.

    Returns (TRL config, ModelConfig, TrainArgs, checkpoint or None); the output folder exists afterwards.
    """
    from transformers import set_seed

    from chatrecipe.recipe import parse_section
    from chatrecipe.train.fast.cpu_allocator import keep_freed_memory
    from chatrecipe.train.outputs import resume_point

    output_dir.mkdir(parents=True, exist_ok=True)
    config, model_config, args = parse_section(with_defaults(stage, section), *config_classes(stage), where=stage,
                                               fixed={"output_dir": str(output_dir), "seed": seed})
    check_method(args)
    keep_freed_memory(args.keep_freed_memory and config.use_cpu)
    set_seed(config.seed)
    return config, model_config, args, resume_point(output_dir, resume)


def check_method(args: TrainArgs) -> None:
    """Refuse methods the machine cannot run before any work starts."""
    from chatrecipe.recipe import RecipeError

    if args.method not in METHODS:
        raise RecipeError(f"method {args.method!r}: use one of {', '.join(METHODS)}")
    if args.method == "qlora":
        import importlib.util

        import torch

        if not torch.cuda.is_available():
            raise RecipeError("method qlora needs a CUDA GPU (bitsandbytes 4-bit kernels); on this machine use "
                              "method: lora, or run the recipe where a GPU is available")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise RecipeError("method qlora needs bitsandbytes: pip install 'chatrecipe[qlora]'")
