"""DPO speed on this machine: TRL's default settings vs chatrecipe's, side by side in one run.

Run as: `python benchmarks/bench_dpo.py [--pairs 32] [--method lora] [--rounds 2]` (the embedded model, a few
minutes).

Both runs train DPO on the same starter pairs for one epoch; only performance settings differ: TRL's defaults
(its fused LM head, activation checkpointing, LoRA dropout 0.05, bf16 autocast where the CPU has AVX512-BF16)
against chatrecipe's (the plain-logits LM head over the scored positions only, causal attention without the
padding mask (`varlen_sdpa`), no activation checkpointing on a CPU, glibc keeping freed memory, LoRA dropout 0). TRL 1.16 has switched DPO's `padding_free` off, so both runs
pad. Each run is a fresh process and the pair is repeated `--rounds` times in turn; printed are pairs/s, the ratio
per round and their median, and the final losses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from fresh_process import run_json

from chatrecipe.data.records import load_records
from chatrecipe.data.resources import resource_path
from chatrecipe.models import EMBEDDED
from chatrecipe.train import dpo


def sections(args) -> dict:
    common = {"method": args.method, "num_train_epochs": 1, "per_device_train_batch_size": 2,
              "learning_rate": 5e-6, "logging_steps": 1, "save_strategy": "no", "seed": 0}
    return {"TRL defaults": {**common, "lora_dropout": 0.05, "lm_head": "fused", "activation_checkpointing": True,
                             "keep_freed_memory": False, "attn_implementation": "sdpa"},
            "chatrecipe defaults": {**common}}


def train_once(args) -> None:
    """One training run in this process; prints its figures as one JSON line."""
    records = load_records(resource_path("starter:preferences.jsonl"), "preference").records[:args.pairs]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pairs.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        metrics = dpo.run(sections(args)[args.one], model=EMBEDDED, train_files=[data], output_dir=Path(tmp) / "out",
                          resume=False)
    print(json.dumps({"pairs": len(records), "seconds": metrics["train_runtime"], "loss": metrics["train_loss"]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--method", default="lora", choices=["full", "lora"])
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs, in turn; the median ratio is reported")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one side in this process
    args = parser.parse_args()
    if args.one:
        return train_once(args)
    ratios, losses = [], {}
    for round_number in range(1, args.rounds + 1):
        speeds = {}
        for name in sections(args):
            r = run_json(__file__, ["--one", name, "--pairs", str(args.pairs), "--method", args.method])
            speeds[name], losses[name] = r["pairs"] / r["seconds"], r["loss"]
            print(f"  round {round_number}  {name:<20} {speeds[name]:6.3f} pairs/s  loss {r['loss']:.4f}", flush=True)
        ratios.append(speeds["chatrecipe defaults"] / speeds["TRL defaults"])
    base, new = losses["TRL defaults"], losses["chatrecipe defaults"]
    print(f"DPO, {args.method}, {r['pairs']} pairs, batch 2, one epoch")
    print(f"  speed-up per round {', '.join(f'{x:.2f}x' for x in ratios)}; median {statistics.median(ratios):.2f}x; "
          f"loss difference {100 * abs(new - base) / base:.2f}% (LoRA dropout differs: 0.05 vs 0)")


if __name__ == "__main__":
    main()
