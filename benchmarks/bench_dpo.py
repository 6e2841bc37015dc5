"""DPO speed on this machine: TRL's default settings vs chatrecipe's, side by side in one run.

Run as: `python benchmarks/bench_dpo.py [--pairs 32] [--method lora]` (the embedded model, a few minutes).

Both runs train LoRA DPO on the same starter pairs for one epoch; only performance settings differ: TRL's
defaults (padded batches, LoRA dropout 0.05, its precision choice) against chatrecipe's (bf16 autocast where the
CPU has AVX512-BF16, padding-free batches, LoRA dropout 0). Prints pairs/s, the ratio and the final losses.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from chatrecipe.data.records import load_records
from chatrecipe.data.resources import resource_path
from chatrecipe.models import EMBEDDED
from chatrecipe.train import dpo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--method", default="lora", choices=["full", "lora"])
    args = parser.parse_args()
    records = load_records(resource_path("starter:preferences.jsonl"), "preference").records[:args.pairs]
    common = {"method": args.method, "num_train_epochs": 1, "per_device_train_batch_size": 2,
              "learning_rate": 5e-6, "logging_steps": 1, "save_strategy": "no", "seed": 0}
    settings = {"TRL defaults": {**common, "padding_free": False, "lora_dropout": 0.05},
                "chatrecipe defaults": {**common, "padding_free": True}}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pairs.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        for name, section in settings.items():
            started = time.perf_counter()
            metrics = dpo.run(section, model=EMBEDDED, train_files=[data], output_dir=Path(tmp) / name.split()[0],
                              resume=False)
            results[name] = {"pairs_per_s": len(records) / metrics["train_runtime"], "loss": metrics["train_loss"],
                             "wall": time.perf_counter() - started}
    print(f"DPO, {args.method}, {len(records)} pairs, batch 2, one epoch")
    for name, r in results.items():
        print(f"  {name:<20} {r['pairs_per_s']:6.3f} pairs/s  loss {r['loss']:.4f}")
    base, new = results["TRL defaults"], results["chatrecipe defaults"]
    print(f"  speed-up {new['pairs_per_s'] / base['pairs_per_s']:.2f}x; "
          f"loss difference {100 * abs(new['loss'] - base['loss']) / base['loss']:.2f}%")


if __name__ == "__main__":
    main()
