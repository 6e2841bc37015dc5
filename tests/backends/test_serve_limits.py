"""`chatrecipe serve` under hostile or heavy use: over-long prompts refused before they take the model, a bounded
queue with a bounded wait, /v1/models answering while the model is busy, non-finite numbers refused (422, not
500), and an optional API key."""

from __future__ import annotations

import threading

import httpx
import pytest

from chatrecipe.backends import load_backend
from chatrecipe.backends.base import ScriptedBackend
from chatrecipe.serve import create_app
from tests.servers import running

ASK = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
GUARD = 120  # seconds: only a broken server ever waits this long (these calls answer at once, or when released)


class Gate:
    """A stand-in for a slow model: each answer waits until the test opens the gate (the server is under test)."""

    def __init__(self):
        self.open, self.entered = threading.Event(), threading.Event()
        self.backend = ScriptedBackend(self.respond, "slow")

    def respond(self, messages):
        self.entered.set()
        self.open.wait(GUARD)
        return "done"


def _post_in_threads(url: str, n: int) -> tuple[list, list[threading.Thread]]:
    replies: list = []

    def post():
        replies.append(httpx.post(f"{url}/v1/chat/completions", json=ASK, timeout=GUARD))

    threads = [threading.Thread(target=post) for _ in range(n)]
    for thread in threads:
        thread.start()
    return replies, threads


def test_queue_is_bounded_and_models_answers_under_load():
    gate = Gate()
    app = create_app(gate.backend)  # defaults: one generating, 16 waiting
    with running(app) as url:
        replies, threads = _post_in_threads(url, 60)  # more than the 40 worker threads sync endpoints share
        try:
            refused = threading.Event()
            for _ in range(GUARD * 50):  # until the overflow is refused (at once); the guard only stops a broken server
                if sum(r.status_code == 429 for r in list(replies)) == 60 - 17:
                    refused.set()
                    break
                refused.wait(0.02)
            assert refused.is_set(), f"{len(replies)} of 60 answered while the model was busy"
            assert app.state.turns.admitted == 17 and gate.entered.is_set()
            models = httpx.get(f"{url}/v1/models", timeout=GUARD)  # the model is busy, the line is full
            assert models.status_code == 200 and models.json()["data"][0]["id"] == "slow"
        finally:
            gate.open.set()
            for thread in threads:
                thread.join(GUARD)
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] * 17 + [429] * 43
    refused = next(r for r in replies if r.status_code == 429)
    refusal = next(r for r in replies if r.status_code == 429)
    assert "16 requests already wait for the model (max queue)" in refusal.json()["error"]["message"]
    assert refusal.headers["retry-after"] == "1"


def test_a_request_waits_for_the_model_at_most_queue_timeout():
    gate = Gate()
    with running(create_app(gate.backend, max_queue=2, queue_timeout=0.3)) as url:
        replies, threads = _post_in_threads(url, 1)
        assert gate.entered.wait(GUARD)  # the first request holds the model
        waited = httpx.post(f"{url}/v1/chat/completions", json=ASK, timeout=GUARD)
        assert waited.status_code == 503 and "busy for 0.3 s (queue timeout)" in waited.json()["error"]["message"]
        assert waited.headers["retry-after"] == "1"
        gate.open.set()
        threads[0].join(GUARD)
        assert replies[0].status_code == 200
        assert httpx.post(f"{url}/v1/chat/completions", json=ASK, timeout=GUARD).status_code == 200  # freed


@pytest.mark.parametrize("field, value", [("temperature", "NaN"), ("temperature", "Infinity"),
                                          ("temperature", "1e999"), ("top_p", "NaN"), ("top_p", "-Infinity")])
def test_non_finite_sampling_numbers_are_a_422(field, value):
    from fastapi.testclient import TestClient

    client = TestClient(create_app(ScriptedBackend(lambda m: "hi")), raise_server_exceptions=False)
    body = '{"messages": [{"role": "user", "content": "x"}], "%s": %s}' % (field, value)
    reply = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"] == ["body", field]


def test_over_long_prompts_are_refused_before_they_take_the_model(tiny_model_path):
    import openai

    local = load_backend(str(tiny_model_path), name="tiny")
    limit = 512  # the tiny model's max_position_embeddings
    calls = []
    chat = local.chat
    local.chat = lambda *a, **k: calls.append(1) or chat(*a, **k)  # counts what reaches the model
    with running(create_app(local)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        long = [{"role": "user", "content": "tell me about rivers " * 400}]
        with pytest.raises(openai.BadRequestError, match=f"this model's context is {limit} tokens"):
            client.chat.completions.create(model="tiny", messages=long, max_tokens=4)
        assert calls == []  # refused without generating
        near = [{"role": "user", "content": "rivers " * 60}]
        prompt = len(local._prompt_ids(near))
        assert 0 < limit - prompt < 500
        with pytest.raises(openai.BadRequestError, match=f"at most {limit - prompt} answer tokens fit, not 500"):
            client.chat.completions.create(model="tiny", messages=near, max_tokens=500)
        # no max_tokens: the default budget shrinks to what fits instead of running past the context
        reply = client.chat.completions.create(model="tiny", messages=near, temperature=1.0, seed=1)
        assert reply.usage.prompt_tokens == prompt and reply.usage.completion_tokens <= limit - prompt
        assert calls == [1]
    assert local.context_window == limit and local.prompt_tokens(near) == prompt


def test_api_key_guards_every_endpoint(capsys):
    import openai

    from chatrecipe.serve import warn_if_open

    with running(create_app(ScriptedBackend(lambda m: "hi", "m"), api_key="s3cret")) as url:
        assert httpx.get(f"{url}/v1/models").status_code == 401
        wrong = httpx.post(f"{url}/v1/chat/completions", json=ASK, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "--api-key" in wrong.json()["error"]["message"]
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert client.chat.completions.create(model="m", messages=ASK["messages"]).choices[0].message.content == "hi"
        assert [m.id for m in client.models.list().data] == ["m"]
    warn_if_open("0.0.0.0", 8000, None)
    warn_if_open("0.0.0.0", 8000, "s3cret")
    warn_if_open("127.0.0.1", 8000, None)
    assert capsys.readouterr().err.count("without --api-key") == 1


@pytest.mark.slow
def test_serve_command_takes_the_key_from_the_environment_and_the_limits_as_flags(tiny_model_path, tmp_path):
    import os
    import subprocess
    import sys

    from tests.servers import free_port

    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "CHATRECIPE_SERVE_API_KEY": "s3cret"}
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "chatrecipe.cli", "serve", str(tiny_model_path), "--port",
                                   str(port), "--max-queue", "0", "--queue-timeout", "0.1"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    url, key = f"http://127.0.0.1:{port}/v1", {"Authorization": "Bearer s3cret"}
    try:
        while True:  # until it answers: loading the model is the work that sets the pace
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/models", timeout=GUARD).status_code:
                    break
            except httpx.TransportError:
                threading.Event().wait(0.1)
        assert httpx.get(f"{url}/models", timeout=GUARD).status_code == 401
        assert httpx.get(f"{url}/models", headers=key, timeout=GUARD).json()["data"][0]["id"] == str(tiny_model_path)
        reply = httpx.post(f"{url}/chat/completions", json=ASK, headers=key, timeout=GUARD)
        assert reply.status_code == 200, reply.text
    finally:
        server.terminate()
        server.wait(GUARD)
    printed = log.read_text()
    assert "context 512 tokens, API key required" in printed and "s3cret" not in printed


def test_a_seed_beyond_64_bits_is_a_422_and_a_vanishing_temperature_answers_greedily(tiny_model_path):
    """Before: seed 2**64 ended in torch's 'Overflow when unpacking long long' and temperature 1e-300 in 'probability
    tensor contains inf' (logits / 1e-300): both a bare 500. A seed is refused where torch cannot take it, and a
    temperature too small to sample with means greedy decoding, as vLLM treats it."""
    local = load_backend(str(tiny_model_path), name="tiny")
    with running(create_app(local)) as url:
        def ask(**fields):
            return httpx.post(f"{url}/v1/chat/completions", json={**ASK, **fields}, timeout=GUARD)

        for seed in (2**64, -(2**64), 10**30):
            reply = ask(seed=seed)
            assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["body", "seed"], reply.text
        assert ask(seed=2**63 - 1).status_code == 200 and ask(seed=-1).status_code == 200
        greedy = ask(temperature=0.0, max_tokens=8)
        assert greedy.status_code == 200
        for tiny in (1e-300, 1e-9):
            reply = ask(temperature=tiny, max_tokens=8)
            assert reply.status_code == 200, reply.text
            assert reply.json()["choices"][0]["message"]["content"] == greedy.json()["choices"][0]["message"]["content"]


def test_an_endless_queue_timeout_is_refused_before_the_model_loads(tmp_path):
    """Before: `serve --queue-timeout inf` loaded the model, then ended in a ValueError traceback (NaN is refused
    by the option itself). Now a message names the flag, before any model is read."""
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    result = CliRunner().invoke(app, ["serve", str(tmp_path / "no-model-here"), "--queue-timeout", "inf"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Loading weights" not in result.output
    assert "--queue-timeout inf: give a finite number of seconds" in result.output
    with pytest.raises(ValueError, match="--max-queue -1"):
        create_app(ScriptedBackend(lambda m: "hi"), max_queue=-1)


def test_without_the_key_no_body_is_read():
    """Before: the key was a FastAPI dependency, checked after the body was read and parsed, so anyone who could
    reach the port made the server take in (and parse) a body of any size before the 401: 300 MB took 11 s and
    170 MB of memory. Now the key is checked on the headers, before one byte of the body is read."""
    import socket

    from urllib.parse import urlsplit

    with running(create_app(ScriptedBackend(lambda m: "hi", "m"), api_key="s3cret")) as url:
        host, port = urlsplit(url).hostname, urlsplit(url).port
        with socket.create_connection((host, port), timeout=GUARD) as raw:
            # headers promising a 1 GB body, and none of it sent: only a server that answers on the headers replies
            raw.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 1000000000\r\n\r\n")
            raw.settimeout(GUARD)  # an answer comes at once; only a server waiting for the body runs into this
            reply = b""
            try:
                while chunk := raw.recv(4096):  # until the server closes: it sends "Connection: close"
                    reply += chunk
            except socket.timeout:
                reply = reply or b"(no answer: the server waits for the body)"
        assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
        assert b"--api-key" in reply
        ok = httpx.post(f"{url}/v1/chat/completions", json=ASK, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize("body", ['{"messages": [{"role": "user", "content": "hi \\ud800"}]}',
                                  '{"messages": [{"role": "user", "content": "hi"}], "stop": ["\\udfff"]}',
                                  '{"messages": [{"role": "user", "content": "hi"}], "stop": "\\ud83d"}'])
def test_a_lone_surrogate_is_a_422_naming_the_field(tiny_model_path, body):
    """Before: the JSON escape "\\ud800" (valid JSON, not text) reached the tokenizer, whose TypeError was a 500."""
    local = load_backend(str(tiny_model_path), name="tiny")
    with running(create_app(local)) as url:
        reply = httpx.post(f"{url}/v1/chat/completions", content=body, headers={"content-type": "application/json"},
                           timeout=GUARD)
        assert reply.status_code == 422, reply.text
        error = reply.json()["error"]["message"]
        assert "lone surrogate" in error and ("messages.0.content" in error or "stop" in error)
        fine = httpx.post(f"{url}/v1/chat/completions", json={**ASK, "stop": ["😀"]}, timeout=GUARD)
        assert fine.status_code == 200, fine.text
