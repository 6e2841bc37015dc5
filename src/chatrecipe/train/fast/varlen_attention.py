"""Causal attention over batches of sequences of different lengths, without computing what a mask throws away.

On a GPU, flash-attention's variable-length kernel attends within each sequence and skips padding. transformers'
SDPA path, the one a CPU has, instead hands SDPA a mask, and SDPA then computes every (query, key) pair of the
row and drops the masked ones afterwards:
- a padding-free row (TRL's `padding_free=True`) holds every example back to back under a block-diagonal mask, so
  four examples of 125 tokens cost as much as one of 500: 16x the causal work needed. On the embedded model that
  was about 18% of an SFT step here;
- a right-padded batch (TRL's DPO and reward batches) carries a padding mask, which also turns off SDPA's causal
  kernel. Under causal attention a real token never looks at the padding after it, so the mask changes only the
  padding's own outputs, which no loss reads.

`varlen_sdpa`, registered with transformers' `AttentionInterface`, calls transformers' own SDPA function on each
packed example with the causal flag and no mask, and on a right-padded batch with the causal flag and no mask.
Anything else (left padding, generation with a cache, custom masks) goes to transformers' SDPA unchanged. The
outputs at every real token are the masked computation's.

On a CUDA GPU with bf16/fp16 activations, a packed row goes to PyTorch's own variable-length flash kernel
(`torch.nn.attention.varlen.varlen_attn`, PyTorch >= 2.9) in one call instead of one SDPA call per example: the
same causal attention within each example, no flash-attn package needed. Elsewhere the per-example loop runs.
"""

from __future__ import annotations

import functools

NAME = "varlen_sdpa"


def varlen_sdpa_forward(module, query, key, value, attention_mask, cu_seq_lens_q=None, **kwargs):
    """SDPA per packed example, or causal SDPA without the mask on a right-padded batch; plain SDPA otherwise."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    same_length = query.shape[2] == key.shape[2]  # no cache: training or a first forward
    window = kwargs.get("sliding_window")  # Mistral's: attention reaches only this far back
    if same_length and cu_seq_lens_q is not None and query.shape[0] == 1 and len(cu_seq_lens_q) > 2:
        # the boundaries come to the host (a device sync on CUDA) only when a window or the per-example loop needs them
        bounds = cu_seq_lens_q.tolist() if window or not query.is_cuda else None
        within_window = not window or max(b - a for a, b in zip(bounds[:-1], bounds[1:])) <= window
        if flash_varlen_available(query, window if not within_window else None):
            kwargs.pop("is_causal", None)
            return flash_varlen(query, key, value, cu_seq_lens_q, kwargs.get("max_length_q"),
                                scaling=kwargs.get("scaling"), window=None if within_window else window), None
        if not within_window:  # an example longer than the window: the sliding-window mask must apply
            return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
        kwargs.pop("is_causal", None)
        bounds = bounds or cu_seq_lens_q.tolist()
        outputs = [sdpa_attention_forward(module, query[:, :, start:end], key[:, :, start:end],
                                          value[:, :, start:end], None, is_causal=True, **kwargs)[0]
                   for start, end in zip(bounds[:-1], bounds[1:])]
        return torch.cat(outputs, dim=1), None
    if same_length and getattr(module, "is_causal", True) and (not window or query.shape[2] <= window) \
            and is_right_padding_mask(attention_mask):
        kwargs.pop("is_causal", None)
        return sdpa_attention_forward(module, query, key, value, None, is_causal=True, **kwargs)
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def flash_varlen_available(query, window: int | None = None) -> bool:
    """PyTorch's variable-length flash kernel exists here and takes these activations: on CUDA, in half precision
    or under autocast (fp32 master weights make the rotated q/k fp32; SDPA would cast them, so this does too), and
    with a sliding `window` only where the kernel's wrapper takes one."""
    import torch

    if not query.is_cuda:
        return False
    if query.dtype not in (torch.float16, torch.bfloat16) and not torch.is_autocast_enabled("cuda"):
        return False
    kernel = _varlen_kernel()
    return kernel is not None and (window is None or "window_size" in _parameters(kernel))


@functools.cache
def _varlen_kernel():
    """PyTorch's varlen_attn, or None where this PyTorch has none; looked up once (a failed import is not cached,
    and every layer of every step asks)."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn


@functools.cache
def _parameters(function) -> dict:
    """The keywords a kernel wrapper takes, read once: every layer of every step asks."""
    import inspect

    return inspect.signature(function).parameters


def flash_varlen(query, key, value, cu_seq_lens, max_length=None, scaling=None, window: int | None = None):
    """Causal attention within each packed example of a (1, heads, tokens, dim) row, in one flash-kernel call.

    Returns (1, tokens, heads, dim), the layout transformers' attention functions return. The keyword for
    "causal" changed across PyTorch versions (`is_causal` in 2.9/2.10, `window_size=(-1, 0)` later), and grouped
    key/value heads are repeated where the kernel's wrapper has no `enable_gqa`.
    """
    import torch

    varlen_attn = _varlen_kernel()
    accepted = _parameters(varlen_attn)
    dtype = query.dtype if query.dtype in (torch.float16, torch.bfloat16) else torch.get_autocast_dtype("cuda")
    q, k, v = (t[0].transpose(0, 1).to(dtype) for t in (query, key, value))  # (tokens, heads, dim)
    options = {}
    if k.shape[1] != q.shape[1]:
        if "enable_gqa" in accepted:
            options["enable_gqa"] = True
        else:
            groups = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    if "window_size" in accepted:
        options["window_size"] = (window - 1 if window else -1, 0)  # as transformers' flash path counts it
    else:
        options["is_causal"] = True
    if scaling is not None and "scale" in accepted:
        options["scale"] = scaling
    cu = cu_seq_lens.to(device=q.device, dtype=torch.int32)
    longest = int(max_length) if max_length else int((cu[1:] - cu[:-1]).max())
    out = varlen_attn(q.contiguous(), k.contiguous(), v.contiguous(), cu, cu, longest, longest, **options)
    return out[None]


_last_checked: list = [None, False]  # every layer gets the same mask tensor: check it once per forward


def is_right_padding_mask(mask) -> bool:
    """Whether a 4D boolean mask is exactly "causal, and keys only up to each row's length" (right padding)."""
    import torch

    if mask is None or mask.dtype != torch.bool or mask.dim() != 4 or mask.shape[1] != 1:
        return False
    if _last_checked[0] is mask:
        return _last_checked[1]
    batch, _, q_length, k_length = mask.shape
    lengths = mask[:, 0, -1, :].sum(-1)  # the last query row sees every real key when padding is on the right
    keys = torch.arange(k_length, device=mask.device)
    causal = keys[None, :] <= torch.arange(q_length, device=mask.device)[:, None]
    expected = causal[None] & (keys[None, None, :] < lengths[:, None, None])
    # a real query row must see at least itself; rows past the length are padding, whatever they see
    real_rows = torch.arange(q_length, device=mask.device)[None, :] < lengths[:, None]
    matches = bool(((mask[:, 0] == expected) | ~real_rows[:, :, None]).all()) and bool((lengths > 0).all())
    _last_checked[:] = [mask, matches]
    return matches


def register() -> str:
    """Make `attn_implementation="varlen_sdpa"` available to transformers (idempotent); returns the name."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(NAME, varlen_sdpa_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)  # the same masks as SDPA, so the fallback is exact
    return NAME


def use_varlen_attention(model) -> bool:
    """Switch a model that runs transformers' SDPA to `varlen_sdpa`; returns whether it did."""
    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return False
    model.set_attn_implementation(register())
    return model.config._attn_implementation == NAME


def unpad_right_padded(kwargs: dict):
    """Turn a right-padded batch's model kwargs into one padding-free row, so no layer computes on padding.

    Returns `(packed_kwargs, repad)`, where `repad(hidden)` puts the row's hidden states back at the padded
    positions (zeros at the padding), or None when the batch is not a plain right-padded one: then the caller
    runs it as it is. The packed row carries `position_ids` and `cu_seq_lens_*` like TRL's padding-free
    collator's, so `varlen_sdpa` (or flash-attention) attends within each sequence.
    """
    import torch

    input_ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
    if (input_ids is None or mask is None or mask.dim() != 2 or kwargs.get("position_ids") is not None
            or kwargs.get("inputs_embeds") is not None or bool(mask.all())):
        return None
    keep = mask.bool()
    lengths = keep.sum(-1)
    if not bool((keep == (torch.arange(keep.shape[1], device=keep.device) < lengths[:, None])).all()):
        return None  # left padding or holes
    cu_seq_lens = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)]).to(torch.int32)
    packed = {**kwargs, "input_ids": input_ids[keep][None], "attention_mask": None,
              "position_ids": torch.cat([torch.arange(int(n), device=keep.device) for n in lengths])[None],
              "cu_seq_lens_q": cu_seq_lens, "cu_seq_lens_k": cu_seq_lens,
              "max_length_q": int(lengths.max()), "max_length_k": int(lengths.max())}

    def repad(hidden):
        out = hidden.new_zeros(*keep.shape, hidden.shape[-1])
        return out.masked_scatter(keep[..., None], hidden[0])

    return packed, repad
