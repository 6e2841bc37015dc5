"""Judge throughput against a slow endpoint: sequential vs chatrecipe's concurrent client, side by side.

Run as: `python benchmarks/bench_judge_client.py [--requests 64] [--latency 0.2]`.
A local OpenAI-compatible server on 127.0.0.1 answers every request after `latency` seconds (like a remote API);
goal: >= 10x with 16 requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI, Request

from chatrecipe.backends.base import GenerationParams
from chatrecipe.backends.openai_client import OpenAIBackend


def slow_server(latency: float) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        body = await request.json()
        await asyncio.sleep(latency)
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                                                                              "content": "Rating: [[7]]"}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105}}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(slow_server(args.latency), host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    prompts = [[{"role": "user", "content": f"judge answer {i}"}] for i in range(args.requests)]
    rates = {}
    for label, concurrency in (("sequential", 1), ("concurrent, 16 in flight", 16)):
        backend = OpenAIBackend("judge", base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=concurrency)
        started = time.perf_counter()
        results = backend.chat(prompts, GenerationParams(max_new_tokens=8))
        seconds = time.perf_counter() - started
        assert all(r.ok for r in results)
        rates[label] = args.requests / seconds
        print(f"  {label:<26} {rates[label]:6.1f} judgments/s  ({seconds:.1f} s for {args.requests})")
    ratio = rates["concurrent, 16 in flight"] / rates["sequential"]
    print(f"  ratio {ratio:.1f}x (goal >= 10x with {args.latency * 1000:.0f} ms latency per request)")
    server.should_exit = True


if __name__ == "__main__":
    main()
