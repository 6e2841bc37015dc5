"""Attention alone: transformers' SDPA with its mask vs `varlen_sdpa`, side by side in one run.

Run as: `python benchmarks/bench_attention.py [--sizes 4 16]` (under a minute).

One attention layer of the embedded model's shape (9 query heads, 3 key/value heads, head size 64), forward and
backward under bf16 autocast, on a padding-free row of N chats of 91-523 tokens (the starter data's range), and on
the same chats as a right-padded batch. With SDPA the row gets a block-diagonal mask and the padded batch a padding
mask; `varlen_sdpa` attends within each chat and drops the padding mask. Printed: milliseconds for each and the
ratio, and the largest difference at real tokens (it should be bf16 rounding).
"""

from __future__ import annotations

import argparse
import random
import time

import torch
from transformers import LlamaConfig
from transformers.masking_utils import create_causal_mask
from transformers.models.llama.modeling_llama import LlamaAttention, LlamaRotaryEmbedding

from chatrecipe.train.fast.varlen_attention import register


def layer_time(implementation: str, x, position_ids, attention_mask, extra: dict, repeats: int):
    """Best forward+backward time of one attention layer, and its output."""
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=576, num_attention_heads=9, num_key_value_heads=3, intermediate_size=1536,
                         attn_implementation=implementation)
    layer, rope = LlamaAttention(config, 0), LlamaRotaryEmbedding(config)
    x = x.detach().requires_grad_()
    position_embeddings = rope(x, position_ids)
    mask = create_causal_mask(config=config, inputs_embeds=x, attention_mask=attention_mask, cache=None,
                              position_ids=position_ids)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, _ = layer(x, position_embeddings=position_embeddings, attention_mask=mask, position_ids=position_ids,
                           **extra)
        out.float().sum().backward()
        best = min(best, time.perf_counter() - started)
    return best, out.detach().float()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16], help="chats per batch")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    register()
    random.seed(0)
    print("One attention layer (9 heads, 3 KV heads, head size 64), forward + backward, bf16 autocast")
    for size in args.sizes:
        lengths = [random.randint(91, 523) for _ in range(size)]
        total, longest = sum(lengths), max(lengths)
        # padding-free: one row, boundaries as TRL's collator sends them
        row = torch.randn(1, total, 576)
        position_ids = torch.cat([torch.arange(n) for n in lengths])[None]
        cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
        extra = {"cu_seq_lens_q": cu, "cu_seq_lens_k": cu}
        masked, out_masked = layer_time("sdpa", row, position_ids, None, extra, args.repeats)
        varlen, out_varlen = layer_time("varlen_sdpa", row, position_ids, None, extra, args.repeats)
        print(f"  {size:2d} chats packed in one row ({total} tokens): SDPA + block mask {1000 * masked:6.0f} ms, "
              f"varlen_sdpa {1000 * varlen:6.0f} ms, {masked / varlen:4.1f}x; "
              f"max difference {(out_masked - out_varlen).abs().max():.1e}")
        # right-padded: the same chats as a batch
        padded = torch.randn(size, longest, 576)
        attention_mask = (torch.arange(longest)[None] < torch.tensor(lengths)[:, None]).long()
        positions = torch.arange(longest)[None].expand(size, -1)
        masked, out_masked = layer_time("sdpa", padded, positions, attention_mask, {}, args.repeats)
        varlen, out_varlen = layer_time("varlen_sdpa", padded, positions, attention_mask, {}, args.repeats)
        real = attention_mask.bool()
        print(f"  {size:2d} chats right-padded to {longest} tokens:  SDPA + padding mask {1000 * masked:5.0f} ms, "
              f"varlen_sdpa {1000 * varlen:6.0f} ms, {masked / varlen:4.1f}x; "
              f"max difference at real tokens {(out_masked[real] - out_varlen[real]).abs().max():.1e}")


if __name__ == "__main__":
    main()
