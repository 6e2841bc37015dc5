"""An OpenAI-compatible chat server over any model chatrecipe can load.

Run as: `chatrecipe serve runs/demo/dpo/final --port 8000`, then point any OpenAI client at
`http://127.0.0.1:8000/v1`. It is how people chat with what they trained, and it is the real server the
backend tests talk to. `/v1/chat/completions` (with `stream: true` as server-sent events) and `/v1/models`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

from pydantic import BaseModel, Field

from chatrecipe.backends.base import Backend, GenerationParams


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat request that change the answer; others are accepted and ignored."""

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float = Field(default=0.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False


def create_app(backend: Backend, model_name: str | None = None):
    """FastAPI app answering with `backend`; requests are served one batch at a time (a lock guards the model)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import StreamingResponse

    name = model_name or backend.model
    lock = threading.Lock()
    app = FastAPI(title="chatrecipe OpenAI-compatible server")

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "chatrecipe",
                                            "created": int(time.time())}]}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest):
        roles = {m.role for m in request.messages}
        if not roles <= {"system", "user", "assistant"}:
            raise HTTPException(400, f"unknown role(s) {sorted(roles - {'system', 'user', 'assistant'})}")
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        params = GenerationParams(max_new_tokens=request.max_completion_tokens or request.max_tokens or 512,
                                  temperature=request.temperature, top_p=request.top_p, stop=tuple(stop),
                                  seed=request.seed)
        with lock:
            result = backend.chat([[m.model_dump() for m in request.messages]], params)[0]
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


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, batch_size: int = 8, name: str | None = None) -> None:
    import uvicorn

    from chatrecipe.backends import load_backend

    backend = load_backend(model, batch_size=batch_size, name=name)
    print(f"serving {backend.model} at http://{host}:{port}/v1 (OpenAI-compatible); Ctrl-C to stop")
    uvicorn.run(create_app(backend, name), host=host, port=port, log_level="warning")
