"""Any OpenAI-compatible endpoint through the official `openai` client: concurrent, retried, accounted.

Requests run concurrently (asyncio, at most `max_concurrency` in flight). A transient failure — 429 (honouring
Retry-After), 5xx, a timeout, a dropped connection, a truncated or empty body — is retried with exponential
backoff and jitter; a request that still fails comes back with `error` set, never as an exception, so callers
record it and count it. Tokens and cost go to the shared ledger.
"""

from __future__ import annotations

import asyncio
import os
import random

from chatrecipe.backends.base import Backend, ChatResult, GenerationParams

TRANSIENT_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIBackend(Backend):
    def __init__(self, model: str, *, name: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, max_concurrency: int = 16, max_retries: int = 6, timeout: float = 60.0,
                 ledger=None, max_cost: float | None = None, backoff: float = 0.5):
        from chatrecipe.backends.ledger import Ledger

        self.api_model, self.model = model, name or model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self.max_concurrency, self.max_retries, self.timeout, self.backoff = max_concurrency, max_retries, timeout, backoff
        self.ledger = ledger or Ledger(max_cost=max_cost)
        self.retries = 0

    def describe(self) -> dict:  # never the key
        return {"backend": "openai", "model": self.model, "api_model": self.api_model, "base_url": self.base_url}

    async def _one(self, client, semaphore, messages, params: GenerationParams) -> ChatResult:
        import openai

        kwargs = {"model": self.api_model, "messages": list(messages), "max_tokens": params.max_new_tokens,
                  "temperature": params.temperature, "top_p": params.top_p}
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if params.seed is not None:
            kwargs["seed"] = params.seed
        error = "not attempted"
        for attempt in range(self.max_retries + 1):
            wait = self.backoff * (2 ** attempt) * (0.5 + random.random())
            async with semaphore:
                try:
                    response = await client.chat.completions.create(**kwargs)
                    choice = response.choices[0] if response.choices else None
                    text = choice.message.content if choice and choice.message else None
                    if not text:
                        error = "empty content"
                    else:
                        usage = response.usage
                        result = ChatResult(text=text, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                                            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                                            finish_reason=choice.finish_reason)
                        self.ledger.record(self.api_model, result.prompt_tokens, result.completion_tokens)
                        return result  # booked here, as it arrives, so the cap sees spending mid-run
                except openai.APIStatusError as exc:
                    if exc.status_code not in TRANSIENT_STATUS:
                        return ChatResult(text=None, error=f"HTTP {exc.status_code}: {exc.message}")
                    error = f"HTTP {exc.status_code}"
                    retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
                    if retry_after:
                        try:
                            wait = max(wait, float(retry_after))
                        except ValueError:
                            pass
                except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                    error = type(exc).__name__
                except (ValueError, KeyError, TypeError, AttributeError) as exc:  # truncated / malformed body
                    error = f"malformed response: {type(exc).__name__}"
            if attempt < self.max_retries:
                self.retries += 1
                await asyncio.sleep(wait)
        return ChatResult(text=None, error=f"failed after {self.max_retries + 1} attempts: {error}")

    async def _all(self, conversations, params, progress):
        import openai

        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout,
                                    max_retries=0)  # retries are ours, so every kind of transient fault is covered
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def run(messages):
            result = await self._one(client, semaphore, messages, params)
            if progress:
                progress(1)
            return result

        try:
            return await asyncio.gather(*(run(m) for m in conversations))
        finally:
            await client.close()

    def chat(self, conversations, params=None, *, progress=None):
        params = params or GenerationParams()
        estimate = sum(len(m["content"]) // 4 for c in conversations for m in c)
        self.ledger.check(self.api_model, estimate, params.max_new_tokens * len(conversations))
        work = self._all(list(conversations), params, progress)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(work)
        # called from code that already runs an event loop (a web app, a notebook): use a loop of our own
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, work).result()
