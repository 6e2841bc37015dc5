"""Reward-model scoring throughput: length-sorted batches vs batches in file order, side by side in one run.

Run as: `python benchmarks/bench_rm_scoring.py [--pairs 94] [--batch-size 8] [--dtype float32]` (embedded model,
a few minutes on 2 CPU cores). The reward model is SmolLM2-135M-Instruct with a sequence-classification head
(random: throughput does not depend on what the head learned). Pairs: the starter preference set plus the
shipped RM test sets, whose lengths vary several-fold, as real test sets do.
Goal: sorted >= 1.3x file order in pairs/s, with identical scores (within 1e-4).
"""

from __future__ import annotations

import argparse
import time

from chatrecipe.train.reward_scoring import conversation_ids, load_test_set, score_pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=None, help="Use the first N pairs (default: all).")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=1, help="Time each configuration this many times (median).")
    args = parser.parse_args()

    import statistics

    import torch
    from transformers import AutoModelForSequenceClassification

    from chatrecipe.models import EMBEDDED, load_model, load_tokenizer

    torch.manual_seed(0)
    model = load_model(EMBEDDED, dtype=args.dtype, model_class=AutoModelForSequenceClassification, num_labels=1)
    tokenizer = load_tokenizer(EMBEDDED)
    if torch.cuda.is_available():
        model = model.cuda()
    rows = [r for ref in ("starter:preferences.jsonl", "rm:helpful.jsonl", "rm:truthful.jsonl",
                          "rm:summarize.jsonl", "rm:advice.jsonl") for r in load_test_set(ref).rows][:args.pairs]
    lengths = [len(conversation_ids(tokenizer, r["prompt"] + r[side])) for r in rows for side in ("chosen", "rejected")]
    score_pairs(model, tokenizer, rows[:2], batch_size=2)  # warm-up
    found = {}
    for label, sort in (("file order", False), ("length-sorted", True)):
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            scores = score_pairs(model, tokenizer, rows, batch_size=args.batch_size, sort=sort)
            times.append(time.perf_counter() - started)
        found[label] = (len(rows) / statistics.median(times), scores)
    drift = max(max(abs(a.chosen - b.chosen), abs(a.rejected - b.rejected))
                for a, b in zip(found["file order"][1], found["length-sorted"][1]))
    device = "cuda" if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads"
    print(f"{len(rows)} pairs ({min(lengths)}-{max(lengths)} tokens, median {statistics.median(lengths):.0f}), "
          f"batch {args.batch_size}, {args.dtype}, {device}, SmolLM2-135M + 1-output head")
    base = found["file order"][0]
    for label, (rate, _) in found.items():
        print(f"  {label:<14} {rate:7.2f} pairs/s  {rate / base:5.2f}x")
    ratio = found["length-sorted"][0] / base
    print(f"  largest score difference between the two: {drift:.2e}")
    print(f"  goal: sorted >= 1.3x file order with the same scores -> "
          f"{'met' if ratio >= 1.3 and drift < 1e-4 else 'NOT met'}")


if __name__ == "__main__":
    main()
