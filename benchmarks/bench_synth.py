"""Synthesis speed: the ROUGE-L novelty filter (bounded LCS on a pre-tokenised pool vs rouge-score per pair), and
a whole self-instruct + pairs run against a slow endpoint with 1 vs 16 requests in flight, then rerun from cache.

Run as: `python benchmarks/bench_synth.py [--candidates 400] [--latency 0.1]`.
The endpoint is a local OpenAI-compatible server on 127.0.0.1 that answers after `latency` seconds (like a
remote API). Goals: the same keep/reject decisions as rouge-score's `score`, several times faster; >= 5x more
requests/s with concurrency; a rerun that sends no request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request


def rouge_filter(candidates: int, seed: int = 0) -> None:
    from rouge_score import rouge_scorer

    from chatrecipe.synth.similarity import RougePool
    from chatrecipe.synth.sources import load_seed_tasks

    seeds = [t["instruction"] for t in load_seed_tasks("synth:seed_tasks.jsonl")[0]]
    rng = random.Random(seed)
    words = " ".join(seeds).split()
    # half are light edits of a seed (should be rejected), half are shuffled word salads (mostly kept)
    texts = [" ".join(rng.choice(seeds).split()[:-1] + [rng.choice(words)]) if i % 2 else
             " ".join(rng.sample(words, 10)) for i in range(candidates)]
    started = time.perf_counter()
    pool = RougePool(0.7)
    pool.extend(seeds)
    fast = [pool.add(t)[0] for t in texts]
    fast_s = time.perf_counter() - started
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    started = time.perf_counter()
    pooled, slow = list(seeds), []
    for text in texts:
        keep = all(scorer.score(p, text)["rougeL"].fmeasure < 0.7 for p in pooled)
        slow.append(keep)
        if keep:
            pooled.append(text)
    slow_s = time.perf_counter() - started
    assert fast == slow, "the pool must decide exactly as rouge-score does"
    print(f"ROUGE-L filter, {candidates} candidates against {len(seeds)} seeds + the growing pool:")
    print(f"  kept {sum(fast)}, rejected {candidates - sum(fast)} (identical decisions)")
    print(f"  rouge-score per pair {slow_s:6.2f} s   bounded LCS {fast_s:6.2f} s   ratio {slow_s / fast_s:.1f}x")


VOCABULARY = ("river bridge lantern quartz violin harbour meteor pepper glacier orchard comet falcon marble canyon "
              "tulip anchor saddle ember willow beacon pebble thunder velvet cobalt maple prism summit ferry "
              "cedar lagoon kettle meadow puzzle rocket sparrow tunnel walnut zephyr banjo cactus dune").split()


def slow_server(latency: float) -> FastAPI:
    app = FastAPI()
    app.state.requests = 0

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        body = await request.json()
        app.state.requests += 1
        n = app.state.requests  # before the wait: concurrent requests must not share it
        await asyncio.sleep(latency)
        system = body["messages"][0]["content"]
        if system.startswith("You write new tasks"):
            rng = random.Random(n)
            text = "\n\n".join(f"Task {i}\nInstruction: Explain {' '.join(rng.sample(VOCABULARY, 8))}.\n"
                               "Input: <noinput>" for i in range(4))
        elif "impartial judge" in system:
            text = f"Rating: [[{1 + n % 10}]]"
        else:
            text = f"Answer {n}: a short, clear reply of several words for this request."
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240}}

    return app


def throughput(latency: float) -> None:
    from chatrecipe.backends.openai_client import OpenAIBackend
    from chatrecipe.pipeline.synth import synthesize

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = slow_server(latency)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    section = {"generator": "openai:gpt-4o-mini", "language": None,
               "self_instruct": {"tasks_per_round": 32, "tasks_per_request": 4, "rounds": 2},
               "pairs": {"k": 2}}
    print(f"\nself-instruct (2 rounds x 8 requests) + pairs (k=2, judged), endpoint latency {latency * 1000:.0f} ms:")
    rates = {}
    for label, concurrency in (("1 in flight", 1), ("16 in flight", 16)):
        with tempfile.TemporaryDirectory() as folder:
            client = OpenAIBackend("gpt-4o-mini", name="openai:gpt-4o-mini", base_url=f"http://127.0.0.1:{port}/v1",
                                   max_concurrency=concurrency)
            before = app.state.requests
            started = time.perf_counter()
            synthesize(section, output_dir=Path(folder), seed=0, backends={"openai:gpt-4o-mini": client})
            seconds = time.perf_counter() - started
            summary = json.loads((Path(folder) / "summary.json").read_text())
            sent = app.state.requests - before
            rates[label] = sent / seconds
            usage = summary["usage"]
            print(f"  {label:<14} {sent} requests in {seconds:5.1f} s = {rates[label]:5.1f} requests/s, "
                  f"{usage['completion_tokens']} completion tokens, priced cost ${usage['cost']:.4f}")
            before = app.state.requests
            started = time.perf_counter()
            synthesize(section, output_dir=Path(folder), seed=0, backends={"openai:gpt-4o-mini": client})
            rerun = json.loads((Path(folder) / "summary.json").read_text())["usage"]
            print(f"  {'rerun':<14} {app.state.requests - before} requests sent, {rerun['cached']} answers from the "
                  f"cache, new cost ${rerun['cost']:.4f}, {time.perf_counter() - started:.1f} s")
    print(f"  concurrency ratio {rates['16 in flight'] / rates['1 in flight']:.1f}x")
    server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    rouge_filter(args.candidates)
    throughput(args.latency)


if __name__ == "__main__":
    main()
