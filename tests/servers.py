"""Real HTTP servers on 127.0.0.1 for tests: uvicorn in a thread on a free port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app):
    """Serve `app` on 127.0.0.1:<free port>; yields the base URL and stops the server afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def fault_injecting_app(script, delay: float = 0.0):
    """An OpenAI-compatible server whose replies come from `script(request_json, attempt_number)`.

    `script` returns ("ok", text) | ("status", code, headers) | ("hang", seconds) | ("truncated",) | ("empty",).
    Every request (including failed ones) is logged in `app.state.log`.
    """
    app = FastAPI()
    app.state.log = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        app.state.log.append(body)
        if delay:
            await asyncio.sleep(delay)
        action = script(body, len(app.state.log))
        if action[0] == "status":
            return JSONResponse({"error": {"message": "injected fault"}}, status_code=action[1], headers=action[2])
        if action[0] == "hang":
            await asyncio.sleep(action[1])
        if action[0] == "truncated":
            return Response('{"id": "x", "choices": [{"mess', media_type="application/json")
        text = "" if action[0] == "empty" else action[1]
        return JSONResponse({"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

    return app


def answer_logging_app(answer):
    """An OpenAI-compatible server that logs each answer once it is *fully sent*, for crash-and-rerun tests.

    `answer(request_json)` gives the reply text. `app.state.sent` lists the request bodies whose answers went out
    completely (logged after the last byte was handed to the connection). With `app.state.hold_after = k`, every
    request after the first k answered is held unanswered and `app.state.holding` is set: with one request in
    flight, the next request's arrival proves the client has finished with answer k, so the test kills it there.
    """
    from starlette.background import BackgroundTask

    app = FastAPI()
    app.state.sent = []
    app.state.answered = 0
    app.state.hold_after = None
    app.state.holding = threading.Event()
    app.state.released = threading.Event()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        if app.state.hold_after is not None and app.state.answered >= app.state.hold_after:
            app.state.holding.set()
            while not app.state.released.is_set():  # until the test has killed the client
                await asyncio.sleep(0.02)
            return JSONResponse({"error": {"message": "held"}}, status_code=503)
        reply = {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": answer(body)}}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
        app.state.answered += 1  # counted as it is decided (one event loop), so k answers go out, never more
        # a background task runs after the response's last byte is sent: only then is the answer "fully sent"
        return JSONResponse(reply, background=BackgroundTask(app.state.sent.append, body))

    return app
