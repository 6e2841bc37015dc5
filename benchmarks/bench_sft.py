"""SFT speed on this machine: TRL's default settings vs chatrecipe's, side by side in one run.

Run as: `python benchmarks/bench_sft.py [--examples 48] [--method full] [--rounds 2]` (the embedded model; about
2 minutes a round on 2 cores).

Both runs train the same model on the same conversations with the same assistant-only loss for one epoch; only
the performance settings differ. TRL's defaults: padded batches, its fused LM head, activation checkpointing,
LoRA dropout 0.05, bf16 autocast (TRL turns it on where the CPU has AVX512-BF16). chatrecipe's: padding-free
batches attended one example at a time (`varlen_sdpa`), the plain-logits LM head over the scored positions only,
no activation checkpointing on a CPU, glibc keeping freed memory (`keep_freed_memory`), LoRA dropout 0, the same
bf16 autocast. Each run is a fresh process, and the pair is repeated `--rounds` times in turn, because this machine
is noisy: printed are non-pad tokens/s per run, the ratio per round and their median, the final losses (goal:
within 2%), and model FLOPs utilisation against this machine's measured matmul peak (6 FLOPs per parameter and
token for full training, 4 for LoRA, whose frozen weights need no weight gradient).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from fresh_process import run_json

from chatrecipe.data.records import load_records
from chatrecipe.data.resources import resource_path
from chatrecipe.models import EMBEDDED, load_tokenizer
from chatrecipe.recipe import apply_override
from chatrecipe.train import sft
from chatrecipe.train.args import _bf16_supported

PARAMETERS = 134.5e6


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 8) -> float:
    """Measured GFLOP/s of a square matmul (the machine's practical peak for this dtype)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.matmul(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def sections(args) -> dict:
    """The two recipe sections: identical training, different performance settings."""
    common = {"method": args.method, "num_train_epochs": 1, "per_device_train_batch_size": args.batch,
              "learning_rate": 2e-5, "logging_steps": 1, "save_strategy": "no", "seed": 0,
              "lr_scheduler_type": "linear"}
    trl_defaults = {**common, "padding_free": False, "activation_checkpointing": True, "lora_dropout": 0.05,
                    "lm_head": "fused", "attn_implementation": "sdpa", "keep_freed_memory": False}
    ours = {**common}
    for override in args.ours:
        apply_override(ours, override)
    return {"TRL defaults": trl_defaults, "chatrecipe defaults": ours}


def train_once(args) -> None:
    """One training run in this process; prints its figures as one JSON line."""
    records = load_records(resource_path("starter:sft.jsonl"), "conversation").records[:args.examples]
    tokenizer = load_tokenizer(EMBEDDED)
    tokens = sum(len(tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"])
                 for r in records)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        metrics = sft.run(sections(args)[args.one], model=EMBEDDED, train_files=[data], output_dir=Path(tmp) / "out",
                          resume=False)
    print(json.dumps({"tokens": tokens, "examples": len(records), "seconds": metrics["train_runtime"],
                      "loss": metrics["train_loss"], "settings": metrics["settings"]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=48)
    parser.add_argument("--method", default="full", choices=["full", "lora"])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs, in turn; the median ratio is reported")
    parser.add_argument("--ours", nargs="*", default=[], metavar="KEY=VALUE",
                        help="change chatrecipe's side only, e.g. activation_checkpointing=true (to measure one setting)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one side in this process
    args = parser.parse_args()
    if args.one:
        return train_once(args)
    peak = matmul_peak(torch.bfloat16 if _bf16_supported() else torch.float32)
    flops_per_token = (6 if args.method == "full" else 4) * PARAMETERS
    ratios, losses = [], {}
    for round_number in range(1, args.rounds + 1):
        speeds = {}
        for name in sections(args):
            r = run_json(__file__, ["--one", name, "--examples", str(args.examples), "--method", args.method,
                                    "--batch", str(args.batch), "--ours", *args.ours])
            speeds[name] = r["tokens"] / r["seconds"]
            losses[name] = r["loss"]
            if round_number == 1:
                s = r["settings"]
                print(f"{name}: bf16={s['bf16']} padding_free={s['padding_free']} lm_head={s['lm_head']} "
                      f"attention={s['attention']} activation_checkpointing={s['activation_checkpointing']}")
            print(f"  round {round_number}  {name:<20} {speeds[name]:7.1f} tokens/s  loss {r['loss']:.4f}  "
                  f"MFU {100 * speeds[name] * flops_per_token / 1e9 / peak:4.1f}% of {peak:.0f} GFLOP/s", flush=True)
        ratios.append(speeds["chatrecipe defaults"] / speeds["TRL defaults"])
    base, new = losses["TRL defaults"], losses["chatrecipe defaults"]
    print(f"SFT, {args.method}, {r['examples']} conversations ({r['tokens']} tokens), batch {args.batch}, one epoch")
    print(f"  speed-up per round {', '.join(f'{x:.2f}x' for x in ratios)}; median {statistics.median(ratios):.2f}x "
          f"(goal >= 2x); loss difference {100 * abs(new - base) / base:.2f}% (goal <= 2%)")


if __name__ == "__main__":
    main()
