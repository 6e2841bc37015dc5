"""Any OpenAI-compatible endpoint through the official `openai` client: concurrent, retried, accounted.

Requests run concurrently (asyncio, at most `max_concurrency` in flight). A transient failure — 429, 5xx, a
timeout, a dropped connection, a truncated or empty body — is retried with exponential backoff and jitter; a
request that still fails comes back with `error` set, never as an exception, so callers record it and count it.
Tokens and cost go to the shared ledger as each answer arrives, and so do the retries and their waits.

A server's Retry-After is honoured up to `max_retry_wait` seconds (default 60, like the OpenAI client's own
ceiling): `inf` or `3600` must not hang a judging run silently, so a longer ask is cut to the cap, said on stderr
and counted. Both knobs default from the environment (CHATRECIPE_MAX_CONCURRENCY, CHATRECIPE_MAX_RETRY_WAIT) so
every command that talks to an endpoint can be tuned without a flag of its own.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import sys
import time

from chatrecipe.backends.base import Backend, ChatResult, GenerationParams
from chatrecipe.backends.redact import redact

TRANSIENT_STATUS = {408, 409, 429, 500, 502, 503, 504}
DEFAULT_MAX_CONCURRENCY = 16
DEFAULT_MAX_RETRY_WAIT = 60.0  # seconds
SAY_WAITS_FROM = 1.0  # seconds: shorter waits are counted, not printed (a busy endpoint would flood the terminal)


def setting(value, env: str, default, cast, minimum):
    """An explicit value, else the environment variable `env`, else `default`; refused clearly when out of range."""
    if value is None and not os.environ.get(env):
        return default
    where = repr(value) if value is not None else f"{env}={os.environ[env]!r}"
    try:
        number = cast(value if value is not None else os.environ[env])
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number) or number < minimum:
        raise ValueError(f"{where}: expected a number ({cast.__name__}) of at least {minimum}")
    return number


def retry_after_seconds(headers) -> float | None:
    """The wait a response asks for: `retry-after-ms`, else `Retry-After` as seconds or an HTTP date (RFC 9110).

    None when absent or unreadable; may be `inf` (the caller caps it). A date in the past means no wait.
    """
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            if scale != 1.0:
                continue
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                continue
        if math.isnan(seconds):
            continue
        return max(0.0, seconds)
    return None


def split_query(url: str | None) -> tuple[str | None, dict | None]:
    """A base URL's query (`?api-key=...&api-version=...` of gateways) as the client's default query parameters:
    left in the URL, the client would append the endpoint path after it (`/v1?api-key=...chat/completions`)."""
    if not url or "?" not in url:
        return url, None
    from urllib.parse import parse_qsl

    base, _, query = url.partition("?")
    return base, dict(parse_qsl(query, keep_blank_values=True))


class OpenAIBackend(Backend):
    def __init__(self, model: str, *, name: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, max_concurrency: int | None = None, max_retries: int = 6,
                 timeout: float = 60.0, ledger=None, max_cost: float | None = None, backoff: float = 0.5,
                 max_retry_wait: float | None = None):
        from chatrecipe.backends.ledger import Ledger

        self.api_model, self.model = model, name or model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self.max_concurrency = setting(max_concurrency, "CHATRECIPE_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, int, 1)
        self.max_retry_wait = setting(max_retry_wait, "CHATRECIPE_MAX_RETRY_WAIT", DEFAULT_MAX_RETRY_WAIT, float, 0)
        self.max_retries, self.timeout, self.backoff = max_retries, timeout, backoff
        self.ledger = ledger or Ledger(max_cost=max_cost)
        self.retries = 0

    def describe(self) -> dict:  # never the key, and never credentials inside the URL
        return {"backend": "openai", "model": self.model, "api_model": self.api_model,
                "base_url": redact(self.base_url)}

    def _pause(self, wait: float, asked: float | None, error: str) -> float:
        """How long to sleep before the next attempt: the backoff, or the server's ask, never over the cap."""
        capped = asked is not None and asked > self.max_retry_wait
        if asked is not None:
            wait = max(wait, asked)
        wait = min(wait, self.max_retry_wait)
        if capped or (asked is not None and wait >= SAY_WAITS_FROM):
            told = "forever" if math.isinf(asked) else f"{asked:g} s"
            print(f"{self.api_model}: {error}; the server asks to wait {told} (Retry-After), waiting {wait:g} s"
                  + (f" (capped by max_retry_wait, CHATRECIPE_MAX_RETRY_WAIT={self.max_retry_wait:g})"
                     if capped else ""), file=sys.stderr)
        self.retries += 1
        self.ledger.waited(self.api_model, wait, retry_after=asked is not None, capped=capped)
        return wait

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
            asked = None
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
                    asked = retry_after_seconds(exc.response.headers if exc.response is not None else None)
                except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                    error = type(exc).__name__
                except (ValueError, KeyError, TypeError, AttributeError) as exc:  # truncated / malformed body
                    error = f"malformed response: {type(exc).__name__}"
            if attempt < self.max_retries:
                await asyncio.sleep(self._pause(wait, asked, error))
        return ChatResult(text=None, error=f"failed after {self.max_retries + 1} attempts: {error}")

    async def _all(self, conversations, params, progress, on_result):
        import openai

        base_url, query = split_query(self.base_url)
        client = openai.AsyncOpenAI(base_url=base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0,
                                    default_query=query)  # retries are ours, so every transient fault is covered
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def run(index, messages):
            result = await self._one(client, semaphore, messages, params)
            if progress:
                progress(1)
            if on_result:  # the caller keeps it now (cache, judgment file): a crash later must not lose it
                on_result(index, result)
            return result

        try:
            return await asyncio.gather(*(run(i, m) for i, m in enumerate(conversations)))
        finally:
            await client.close()

    def chat(self, conversations, params=None, *, progress=None, on_result=None):
        params = params or GenerationParams()
        estimate = sum(len(m["content"]) // 4 for c in conversations for m in c)
        self.ledger.check(self.api_model, estimate, params.max_new_tokens * len(conversations))
        work = self._all(list(conversations), params, progress, on_result)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(work)
        # called from code that already runs an event loop (a web app, a notebook): use a loop of our own
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, work).result()
