"""SFT speed on this machine: TRL's default settings vs chatrecipe's, side by side in one run.

Run as: `python benchmarks/bench_sft.py [--examples 48] [--method full]` (the embedded model; ~5 minutes on 2 cores).

Both runs train the same model on the same conversations with the same assistant-only loss for one epoch;
only the performance settings differ: TRL's defaults (padded batches, its own precision choice) against
chatrecipe's (bf16 autocast where the CPU has AVX512-BF16, padding-free batches, LoRA dropout 0). Printed:
non-pad tokens/s, the ratio, the final losses (they should agree within ~2%), and model FLOPs utilisation
against this machine's measured matmul peak.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from chatrecipe.data.records import load_records
from chatrecipe.data.resources import resource_path
from chatrecipe.models import EMBEDDED, load_tokenizer
from chatrecipe.train import sft
from chatrecipe.train.args import _bf16_supported


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 8) -> float:
    """Measured GFLOP/s of a square matmul (the machine's practical peak for this dtype)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.matmul(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=48)
    parser.add_argument("--method", default="full", choices=["full", "lora"])
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    records = load_records(resource_path("starter:sft.jsonl"), "conversation").records[:args.examples]
    tokenizer = load_tokenizer(EMBEDDED)
    tokens = sum(len(tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"])
                 for r in records)
    common = {"method": args.method, "num_train_epochs": 1, "per_device_train_batch_size": args.batch,
              "learning_rate": 2e-5, "logging_steps": 1, "save_strategy": "no", "seed": 0, "lr_scheduler_type": "linear"}
    trl_defaults = {**common, "padding_free": False, "bf16": None, "activation_checkpointing": True,
                    "lora_dropout": 0.05}
    ours = {**common}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        for name, section in (("TRL defaults", trl_defaults), ("chatrecipe defaults", ours)):
            section = {k: v for k, v in section.items() if v is not None}
            started = time.perf_counter()
            metrics = sft.run(section, model=EMBEDDED, train_files=[data], output_dir=Path(tmp) / name.split()[0],
                              resume=False)
            results[name] = {"seconds": metrics["train_runtime"], "loss": metrics["train_loss"],
                             "tokens_per_s": tokens / metrics["train_runtime"], "wall": time.perf_counter() - started,
                             "bf16": metrics["settings"]["bf16"], "padding_free": metrics["settings"]["padding_free"]}
    params = 134.5e6
    peak = matmul_peak(torch.bfloat16 if _bf16_supported() else torch.float32)
    print(f"SFT, {args.method}, {len(records)} conversations ({tokens} tokens), batch {args.batch}, one epoch")
    for name, r in results.items():
        mfu = r["tokens_per_s"] * 6 * params / 1e9 / peak
        print(f"  {name:<20} {r['tokens_per_s']:7.1f} tokens/s  loss {r['loss']:.4f}  bf16={r['bf16']} "
              f"padding_free={r['padding_free']}  MFU {100 * mfu:4.1f}% of {peak:.0f} GFLOP/s")
    base, new = results["TRL defaults"], results["chatrecipe defaults"]
    print(f"  speed-up {new['tokens_per_s'] / base['tokens_per_s']:.2f}x (goal >= 2x); "
          f"loss difference {100 * abs(new['loss'] - base['loss']) / base['loss']:.2f}% (goal <= 2%)")


if __name__ == "__main__":
    main()
