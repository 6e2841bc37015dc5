"""An OpenAI-compatible chat server over any model chatrecipe can load.

Run as: `chatrecipe serve runs/demo/dpo/final --port 8000`, then point any OpenAI client at
`http://127.0.0.1:8000/v1`. It is how people chat with what they trained, and it is the real server the
backend tests talk to. `/v1/chat/completions` (with `stream: true` as server-sent events) and `/v1/models`.

One model answers one request at a time, so the server guards its turns the way hosted APIs do: a prompt that
cannot fit the model's context is refused up front (400, naming the limit) instead of holding the model for
minutes; at most `max_queue` requests wait for their turn (more get 429), and none waits longer than
`queue_timeout` seconds (503, with Retry-After); `/v1/models` runs on the event loop, so it answers however busy
the model is. With `api_key`, every endpoint wants `Authorization: Bearer <key>`: bind beyond 127.0.0.1 only
with one.
"""

from __future__ import annotations

import hmac
import json
import math
import sys
import threading
import time
import uuid
from dataclasses import replace
from typing import Annotated

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatrecipe.backends.base import Backend, GenerationParams

DEFAULT_MAX_TOKENS = 512
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def utf8_text(text: str) -> str:
    """`text` if it is text: JSON lets "\\ud800" name half a character, which no tokenizer can take (a 500)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not text; send the "
                         "character itself or its full surrogate pair") from None
    return text


Text = Annotated[str, AfterValidator(utf8_text)]


class Message(BaseModel):
    role: str
    content: Text


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat request that change the answer; others are accepted and ignored."""

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float = Field(default=0.0, ge=0, le=2, allow_inf_nan=False)
    top_p: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    stop: Text | list[Text] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)  # what torch.manual_seed takes
    stream: bool = False


class Turns:
    """The model's turns: one generation at a time, a bounded line, a bounded wait in it."""

    def __init__(self, max_queue: int, queue_timeout: float):
        self.max_queue, self.queue_timeout = max_queue, queue_timeout
        self.model = threading.Lock()
        self.admitted = 0  # generating + waiting; changed on the event loop only, so it needs no lock

    def full(self) -> bool:
        return self.admitted > self.max_queue  # one generating, max_queue waiting


def create_app(backend: Backend, model_name: str | None = None, *, api_key: str | None = None,
               max_queue: int = 16, queue_timeout: float = 60.0):
    """FastAPI app answering with `backend`, one generation at a time (see the module docstring for the limits)."""
    check_limits(max_queue, queue_timeout)
    name = model_name or backend.model
    turns = Turns(max_queue, queue_timeout)
    threads = anyio.CapacityLimiter(max_queue + 1)  # its own threads: waiting never starves other endpoints

    app = FastAPI(title="chatrecipe OpenAI-compatible server")
    app.state.turns = turns
    if api_key is not None:
        app.add_middleware(BearerKey, key=api_key)

    @app.exception_handler(StarletteHTTPException)  # ours and the router's (404, 405)
    async def refused(request: Request, exc: StarletteHTTPException):
        return openai_error(exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # the default handler echoes the input back, and JSON cannot carry NaN: a 500 instead of this 422
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        message = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'body'}: {e['msg']}" for e in errors)
        return openai_error(422, message, detail=errors)

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "chatrecipe",
                                            "created": int(time.time())}]}

    def answer(messages: list[dict], params: GenerationParams, explicit_budget: bool):
        """In a worker thread: refuse what cannot fit, wait (bounded) for the model, generate."""
        params = fit_context(backend, messages, params, explicit_budget)
        if not turns.model.acquire(timeout=turns.queue_timeout):
            raise HTTPException(503, f"the model stayed busy for {turns.queue_timeout:g} s (queue timeout); "
                                     "try again later", headers={"Retry-After": str(math.ceil(turns.queue_timeout))})
        try:
            return backend.chat([messages], params)[0]
        finally:
            turns.model.release()

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest):
        roles = {m.role for m in request.messages}
        if not roles <= {"system", "user", "assistant"}:
            raise HTTPException(400, f"unknown role(s) {sorted(roles - {'system', 'user', 'assistant'})}")
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        budget = request.max_completion_tokens or request.max_tokens
        params = GenerationParams(max_new_tokens=budget or DEFAULT_MAX_TOKENS, temperature=request.temperature,
                                  top_p=request.top_p, stop=tuple(stop), seed=request.seed)
        if turns.full():
            raise HTTPException(429, f"{turns.max_queue} requests already wait for the model (max queue); try "
                                     "again shortly", headers={"Retry-After": "1"})
        turns.admitted += 1
        try:
            result = await anyio.to_thread.run_sync(answer, [m.model_dump() for m in request.messages], params,
                                                    budget is not None, limiter=threads)
        finally:
            turns.admitted -= 1
        if not result.ok:
            raise HTTPException(500, f"generation failed: {result.error}")
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                 "total_tokens": result.prompt_tokens + result.completion_tokens}
        if request.stream:
            return StreamingResponse(_events(completion_id, created, name, result.text, result.finish_reason),
                                     media_type="text/event-stream")
        return {"id": completion_id, "object": "chat.completion", "created": created, "model": name,
                "choices": [{"index": 0, "finish_reason": result.finish_reason or "stop",
                             "message": {"role": "assistant", "content": result.text}}], "usage": usage}

    return app


class BearerKey:
    """ASGI middleware: every request must carry `Authorization: Bearer <key>`, checked on the headers before any
    of the body is read, so whoever lacks the key cannot make the server take in and parse a body of any size."""

    def __init__(self, app, key: str):
        self.app, self.expected = app, f"Bearer {key}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                refusal = openai_error(401, "missing or wrong API key: send Authorization: Bearer <the server's "
                                            "--api-key>", headers={"WWW-Authenticate": "Bearer", "Connection": "close"})
                return await refusal(scope, receive, send)
        await self.app(scope, receive, send)


def check_limits(max_queue: int, queue_timeout: float) -> None:
    """ValueError unless the queue is a count >= 0 and its wait a finite number of seconds >= 0."""
    if max_queue < 0:
        raise ValueError(f"--max-queue {max_queue}: give a count of requests >= 0")
    if not (math.isfinite(queue_timeout) and queue_timeout >= 0):
        raise ValueError(f"--queue-timeout {queue_timeout}: give a finite number of seconds >= 0 (a request never "
                         "waits forever)")


def openai_error(status: int, message: str, *, detail=None, headers=None):
    """An error as OpenAI sends it ({"error": {"message", "type", "code"}}, which its clients show), with FastAPI's
    `detail` beside it for plain HTTP callers."""
    kind = {400: "invalid_request_error", 401: "authentication_error", 422: "invalid_request_error",
            429: "rate_limit_error", 503: "server_busy"}.get(status, "server_error")
    return JSONResponse({"error": {"message": message, "type": kind, "code": status},
                         "detail": detail if detail is not None else message}, status_code=status, headers=headers)


def fit_context(backend: Backend, messages: list[dict], params: GenerationParams,
                explicit_budget: bool) -> GenerationParams:
    """The request's parameters if prompt and answer fit the model's context; a smaller default answer budget if
    only that does; else a 400 naming the limit (what OpenAI answers as context_length_exceeded)."""
    limit = backend.context_window
    if limit is None:
        return params
    prompt = backend.prompt_tokens(messages)
    if prompt is None:
        return params
    room = limit - prompt
    if room < 1:
        raise HTTPException(400, f"this model's context is {limit} tokens (prompt and answer together); the "
                                 f"messages take {prompt} tokens: shorten the conversation")
    if params.max_new_tokens <= room:
        return params
    if explicit_budget:
        raise HTTPException(400, f"this model's context is {limit} tokens (prompt and answer together); the "
                                 f"messages take {prompt}, so at most {room} answer tokens fit, not "
                                 f"{params.max_new_tokens}: lower max_tokens or shorten the conversation")
    return replace(params, max_new_tokens=room)


def _events(completion_id: str, created: int, model: str, text: str, finish: str | None):
    """Server-sent events in OpenAI's chunk format (the text arrives word by word, then [DONE])."""
    def chunk(delta: dict, reason=None) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    words = text.split(" ")
    for i, word in enumerate(words):
        yield chunk({"content": word + (" " if i < len(words) - 1 else "")})
    yield chunk({}, finish or "stop")
    yield "data: [DONE]\n\n"


def warn_if_open(host: str, port: int, api_key: str | None) -> None:
    """Binding beyond the loopback interface without a key serves the model to anyone who can reach the port."""
    if host not in LOOPBACK and not api_key:
        print(f"warning: serving on {host}:{port} without --api-key: anyone who can reach it can use the model; "
              "pass --api-key (clients send it as their OpenAI API key)", file=sys.stderr)


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, batch_size: int = 8, name: str | None = None, *,
          api_key: str | None = None, max_queue: int = 16, queue_timeout: float = 60.0) -> None:
    """Load `model` and serve it until Ctrl-C; `api_key` (from --api-key) is required of every client when given."""
    import uvicorn

    from chatrecipe.backends import load_backend

    check_limits(max_queue, queue_timeout)  # before the model loads, which can take minutes
    warn_if_open(host, port, api_key)
    backend = load_backend(model, batch_size=batch_size, name=name)
    limit = backend.context_window
    print(f"serving {backend.model} at http://{host}:{port}/v1 (OpenAI-compatible"
          + (f", context {limit} tokens" if limit else "") + (", API key required" if api_key else "")
          + "); Ctrl-C to stop")
    uvicorn.run(create_app(backend, name, api_key=api_key, max_queue=max_queue, queue_timeout=queue_timeout),
                host=host, port=port, log_level="warning")
