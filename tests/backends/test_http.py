"""The OpenAI-compatible server and client, for real on 127.0.0.1: chat, streaming, retries under faults,
caching so nothing is paid twice, and the spending cap."""

from __future__ import annotations

import random

import pytest

from chatrecipe.backends import load_backend
from chatrecipe.backends.base import GenerationParams
from chatrecipe.backends.cache import CachedBackend
from chatrecipe.backends.ledger import BudgetExceeded, Ledger
from chatrecipe.backends.openai_client import OpenAIBackend
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.servers import fault_injecting_app, running


def test_serve_tiny_model_through_the_openai_client(tiny_model_path):
    import openai

    from chatrecipe.serve import create_app

    local = load_backend(str(tiny_model_path), name="tiny")
    with running(create_app(local)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x")
        assert [m.id for m in client.models.list().data] == ["tiny"]
        # sampled with a seed: the random tiny model's greedy answer is only newlines, i.e. empty text
        reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Say hello."}],
                                               max_tokens=6, temperature=1.0, seed=3)
        sampled = GenerationParams(max_new_tokens=6, temperature=1.0, seed=3)
        direct = local.chat([[{"role": "user", "content": "Say hello."}]], sampled)[0]
        assert direct.text
        assert reply.choices[0].message.content == direct.text  # the server answers as the model does
        assert reply.usage.completion_tokens == direct.completion_tokens
        stream = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Say hello."}],
                                                max_tokens=6, temperature=1.0, seed=3, stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream) == direct.text
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="tiny", messages=[{"role": "robot", "content": "x"}])
        backend = OpenAIBackend("tiny", base_url=f"{url}/v1")
        assert backend.chat([[{"role": "user", "content": "Say hello."}]], sampled)[0].text == direct.text


def test_thirty_percent_transient_faults_all_complete_once_and_cache_once(tmp_path):
    rng = random.Random(0)
    faults = [("status", 429, {"Retry-After": "0.05"}), ("status", 500, {}), ("status", 503, {}),
              ("truncated",), ("empty",), ("hang", 3)]

    def script(body, n):
        if rng.random() < 0.3:
            return rng.choice(faults)
        return ("ok", "answer to " + body["messages"][-1]["content"])

    app = fault_injecting_app(script)
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(40)]
    with running(app) as url:
        inner = OpenAIBackend("judge", base_url=f"{url}/v1", max_concurrency=8, timeout=1.0, backoff=0.01,
                              max_retries=8)
        backend = CachedBackend(inner, tmp_path / "cache")
        results = backend.chat(prompts, GenerationParams(max_new_tokens=5))
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        assert [r.text for r in results] == [f"answer to q{i}" for i in range(40)]
        assert inner.retries > 0 and len(app.state.log) > 40
        assert len(list((tmp_path / "cache").rglob("*.json"))) == 40  # each answer cached exactly once
        requests_before = len(app.state.log)
        again = backend.chat(prompts, GenerationParams(max_new_tokens=5))
        assert all(r.cached for r in again) and len(app.state.log) == requests_before  # nothing paid twice


def test_permanent_errors_come_back_as_errors_not_exceptions():
    app = fault_injecting_app(lambda body, n: ("status", 400, {}))
    with running(app) as url:
        result = OpenAIBackend("judge", base_url=f"{url}/v1", backoff=0.01).chat([[{"role": "user", "content": "x"}]])[0]
    assert not result.ok and "HTTP 400" in result.error and len(app.state.log) == 1  # 400 is not retried


def test_spending_cap_stops_before_sending():
    app = fault_injecting_app(lambda body, n: ("ok", "fine"))
    ledger = Ledger(max_cost=0.0001, prices={"gpt-4o": (2.5, 10.0)})
    with running(app) as url:
        backend = OpenAIBackend("gpt-4o", base_url=f"{url}/v1", ledger=ledger)
        with pytest.raises(BudgetExceeded, match="raise --max-cost"):
            backend.chat([[{"role": "user", "content": "x" * 400}]] * 5, GenerationParams(max_new_tokens=512))
    assert app.state.log == []
    ledger.max_cost = None
    ledger.record("gpt-4o", 1000, 100)
    assert ledger.total_cost == pytest.approx((1000 * 2.5 + 100 * 10.0) / 1e6)


def test_judging_prints_an_estimate_before_it_starts(tmp_path, capsys):
    from chatrecipe.judge.single import judge_single

    app = fault_injecting_app(lambda body, n: ("ok", "Rating: [[7]]"))
    questions = [{"question_id": i, "category": "writing", "turns": ["Write a line."]} for i in range(3)]
    answers = [{"question_id": i, "model": "m", "turns": ["x" * 400]} for i in range(3)]
    with running(app) as url:
        backend = OpenAIBackend("gpt-4o", base_url=f"{url}/v1", ledger=Ledger(prices={"gpt-4o": (2.5, 10.0)}))
        records = judge_single(backend, questions, answers, tmp_path / "s.jsonl", params=GenerationParams(max_new_tokens=100))
    line = capsys.readouterr().err  # on stderr, so --json output on stdout stays clean
    assert "3 requests to send (0 already done)" in line and "up to 300 completion tokens" in line and "$" in line
    assert [r["score"] for r in records] == [7.0, 7.0, 7.0]
    assert backend.ledger.usage["gpt-4o"]["requests"] == 3


def test_client_works_inside_a_running_event_loop(tmp_path):
    """A web app or notebook already runs a loop; chat() must still answer instead of raising."""
    import asyncio

    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request):
        body = await request.json()
        return JSONResponse({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": "pong"}}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    with running(app) as url:
        backend = load_backend("openai:echo", base_url=f"{url}/v1", cache_dir=tmp_path / "cache")

        async def inside_a_loop():
            return backend.chat([[{"role": "user", "content": "ping"}]], GenerationParams(max_new_tokens=4))

        # in a thread of its own: a session fixture (Playwright's sync API) may already run a loop in this one
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            results = pool.submit(asyncio.run, inside_a_loop()).result()
    assert [r.text for r in results] == ["pong"], [r.error for r in results]


def test_an_answer_holding_half_a_character_is_kept_with_a_replacement_character(tmp_path, monkeypatch):
    """Before: an endpoint whose JSON answer held the escape "\\ud800" (half a surrogate pair) ended `generate` in
    an UnsafeValueError traceback before any answer was written, and every rerun the same (the cache kept it).
    Now the lone half becomes U+FFFD, as undecodable bytes do in a local model's decode, and nothing is lost."""
    import json

    from fastapi.responses import Response
    from typer.testing import CliRunner

    from chatrecipe.cli import app as cli

    server = FastAPI()

    @server.post("/v1/chat/completions")
    async def chat(request: Request):
        asked = (await request.json())["messages"][-1]["content"]
        content = "half \\ud800 a pair" if "haiku" in asked else "whole \\ud83d\\ude00"
        return Response('{"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [{"index": '
                        '0, "finish_reason": "stop", "message": {"role": "assistant", "content": "%s"}}], "usage": '
                        '{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}' % content,
                        media_type="application/json")

    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question_id": 1, "turns": ["Write a haiku"]}) + "\n"
                         + json.dumps({"question_id": 2, "turns": ["Smile"]}) + "\n")
    output = tmp_path / "answers.jsonl"
    with running(server) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        result = CliRunner().invoke(cli, ["generate", "--model", "openai:m", "--questions", str(questions),
                                          "-o", str(output)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in output.read_text().splitlines()]
    answers = {r["question_id"]: r["turns"][0] for r in records}
    assert answers == {1: "half \ufffd a pair", 2: "whole \U0001F600"}
