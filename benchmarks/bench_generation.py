"""Local generation speed: one prompt at a time vs batched (and bf16 weights), side by side in one run.

Run as: `python benchmarks/bench_generation.py [--prompts 16] [--tokens 64]` (the embedded model, ~3 minutes).
Goal: batched >= 5x one-at-a-time in generated tokens/s on this CPU.
"""

from __future__ import annotations

import argparse
import time

from chatrecipe.backends.base import GenerationParams
from chatrecipe.backends.local import TransformersBackend
from chatrecipe.data.records import load_records
from chatrecipe.data.resources import resource_path
from chatrecipe.models import EMBEDDED


def measure(backend: TransformersBackend, prompts: list, params: GenerationParams) -> tuple[float, int]:
    started = time.perf_counter()
    results = backend.chat(prompts, params)
    seconds = time.perf_counter() - started
    return sum(r.completion_tokens for r in results) / seconds, sum(r.completion_tokens for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    questions = load_records(resource_path("questions:chatrecipe-eval.jsonl"), "question").records[:args.prompts]
    prompts = [[{"role": "user", "content": q["turns"][0]}] for q in questions]
    # ignore the end-of-turn stop so every configuration generates the same number of tokens
    params = GenerationParams(max_new_tokens=args.tokens)
    rows = []
    for label, batch, dtype in (("one at a time, fp32", 1, None), (f"batch {args.prompts}, fp32", args.prompts, None),
                                (f"batch {args.prompts}, bf16 weights", args.prompts, "bfloat16")):
        backend = TransformersBackend(EMBEDDED, batch_size=batch, dtype=dtype)
        backend.stop_ids = []
        rate, tokens = measure(backend, prompts, params)
        rows.append((label, rate, tokens))
    base = rows[0][1]
    print(f"{args.prompts} prompts x {args.tokens} new tokens, greedy, embedded model")
    for label, rate, tokens in rows:
        print(f"  {label:<28} {rate:7.1f} tokens/s  ({tokens} tokens)  {rate / base:5.1f}x")
    print(f"  goal: batched >= 5x one at a time -> {'met' if max(r[1] for r in rows[1:]) / base >= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
