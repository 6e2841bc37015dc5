"""Activation checkpointing only where GPU memory needs it: an estimate of a training step's memory, and the decision.

Recomputing every layer's activations in the backward pass costs about a third more compute (a forward pass per
step), which TRL pays by default (`gradient_checkpointing: True`). On a CPU chatrecipe never checkpoints (its RAM
holds the activations of any model it can train in reasonable time, see args.py); on a CUDA GPU it checkpoints only
when the estimated peak of a step without it would not fit in the card's memory. A recipe that names
`activation_checkpointing` (or TRL's `gradient_checkpointing`) decides for itself.

The estimate counts, in bytes: the weights; for trainable weights their gradients, AdamW's two fp32 moments and,
for fp32 weights under bf16 autocast, the bf16 copies autocast keeps for the step; and the activations a step saves
for its backward, per token and layer about `(22 + 14 * r) * hidden + 8 * intermediate` with `r` = 1 when the
residual stream is fp32 (fp32 weights) and 0 when it is bf16: the RMSNorm inputs and outputs, the half-precision
copies of each projection's input, q/k/v and the attention output, and the four MLP tensors of a SwiGLU layer.
`benchmarks/gpu_check.py` prints this estimate beside the measured peak so that the coefficients can be checked.
"""

from __future__ import annotations

HEADROOM = 0.9  # the allocator's fragmentation and the CUDA context take the rest


def activation_bytes_per_token(model_config, fp32_residual: bool) -> float:
    """Bytes of saved activations per token across all layers of a decoder (no checkpointing, flash attention)."""
    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    hidden = text.hidden_size
    intermediate = getattr(text, "intermediate_size", None) or 4 * hidden
    per_layer = (22 + 14 * fp32_residual) * hidden + 8 * intermediate
    return per_layer * text.num_hidden_layers


def training_memory(model, batch_tokens: int, frozen_base: bool = False) -> dict:
    """Estimated peak bytes of one training step of `model` on `batch_tokens` tokens without checkpointing.

    `frozen_base`: LoRA/QLoRA, estimated before PEFT adds its adapters (a fraction of a percent of the weights),
    so the base's weights get no gradients or optimizer states.
    """
    import torch

    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable = [] if frozen_base else [p for p in model.parameters() if p.requires_grad]
    states = sum(p.numel() * (p.element_size() + 8) for p in trainable)  # gradient + AdamW's fp32 moments
    autocast_copies = sum(2 * p.numel() for p in trainable if p.dtype == torch.float32 and p.dim() == 2)
    fp32_residual = model.get_input_embeddings().weight.dtype == torch.float32
    activations = batch_tokens * activation_bytes_per_token(model.config, fp32_residual)
    return {"weights": weights, "optimizer_and_gradients": states, "autocast_copies": autocast_copies,
            "activations": int(activations), "total": int(weights + states + autocast_copies + activations)}


def fit_activation_checkpointing(config, section: dict, model, batch_tokens: int, frozen=None,
                                 frozen_base: bool = False) -> dict | None:
    """Turn checkpointing on in `config` (before the trainer is built) when a CUDA step would not fit without it.

    `frozen` is a second model the step holds (DPO's separate reference); `frozen_base` as in `training_memory`.
    Leaves a recipe's own choice, and every
    non-CUDA run, alone. Returns the estimate it decided on (None when it did not decide), for the stage's metrics.
    """
    import torch

    if {"activation_checkpointing", "gradient_checkpointing"} & set(section or {}) or config.use_cpu \
            or not torch.cuda.is_available():
        return None
    estimate = training_memory(model, batch_tokens, frozen_base)
    if frozen is not None:
        estimate["reference"] = sum(p.numel() * p.element_size() for p in frozen.parameters())
        estimate["total"] += estimate["reference"]
    capacity = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    needed = estimate["total"] > HEADROOM * capacity
    config.activation_checkpointing = config.gradient_checkpointing = needed
    return {**estimate, "capacity": capacity, "batch_tokens": batch_tokens, "activation_checkpointing": needed}


def longest_batch_tokens(lengths: list[int], batch_size: int, padded: bool) -> int:
    """Tokens of the largest micro-batch the data can form: the longest examples together (padded: times the
    longest length)."""
    longest = sorted(lengths, reverse=True)[:batch_size]
    if not longest:
        return 0
    return longest[0] * len(longest) if padded else sum(longest)
