"""On-disk answer cache: each (model, parameters, messages) is paid for once, across reruns and crashes.

Entries are one small JSON file each, named by the request's content key and written atomically the moment
its answer arrives (not when the batch returns), so parallel runs cannot collide and a killed run keeps every
answer it received, and only complete entries. Identical requests in one batch are sent once. Failed requests
are not cached: a rerun tries them again.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from chatrecipe.backends.base import Backend, ChatResult, GenerationParams, request_key


class CachedBackend(Backend):
    """Wraps a backend; answers found on disk are returned with `cached=True` and cost nothing."""

    def __init__(self, inner: Backend, cache_dir: str | Path, identity: str | None = None):
        self.inner, self.model = inner, inner.model
        self.cache_dir = Path(cache_dir)
        # the cache key names what produced the answer, not just the display name
        self.identity = identity or json.dumps({k: v for k, v in inner.describe().items()
                                                if k not in ("chat_template",)}, sort_keys=True)
        self.hits = self.misses = 0

    def describe(self) -> dict:
        return {**self.inner.describe(), "cache": str(self.cache_dir)}

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def _read(self, key: str) -> ChatResult | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return ChatResult(text=data["text"], prompt_tokens=data.get("prompt_tokens", 0),
                          completion_tokens=data.get("completion_tokens", 0),
                          finish_reason=data.get("finish_reason"), cached=True)

    def _write(self, key: str, result: ChatResult) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # a temporary file of its own (threads of one process too), renamed over the entry: readers see all or nothing
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump({"text": result.text, "prompt_tokens": result.prompt_tokens,
                       "completion_tokens": result.completion_tokens, "finish_reason": result.finish_reason}, file)
        os.replace(tmp, path)

    def chat(self, conversations, params=None, *, progress=None, on_result=None):
        params = params or GenerationParams()
        keys = [request_key(self.identity, m, params) for m in conversations]
        results = [self._read(k) for k in keys]
        waiting: dict[str, list[int]] = {}  # key -> the positions asking it: identical requests are sent once
        for i, result in enumerate(results):
            if result is None:
                waiting.setdefault(keys[i], []).append(i)
        sent = [positions[0] for positions in waiting.values()]
        self.hits += len(keys) - len(sent)
        self.misses += len(sent)
        self.inner.book([r for r in results if r is not None])  # cache hits: requests without new tokens
        if progress and len(keys) > sum(map(len, waiting.values())):
            progress(len(keys) - sum(map(len, waiting.values())))
        if on_result:
            for i, result in enumerate(results):
                if result is not None:
                    on_result(i, result)

        def arrived(position: int, result: ChatResult) -> None:
            key = keys[sent[position]]
            if results[sent[position]] is not None:  # reported twice (as it came, then in the return value)
                return
            if result.ok:
                self._write(key, result)  # now, not after the batch: a crash must not pay for it again
            first, *copies = waiting[key]
            results[first] = result
            for i in copies:  # its own object (callers may edit a result), booked as the cache hit it is
                results[i] = replace(result, cached=result.ok, meta=dict(result.meta))
            self.inner.book([results[i] for i in copies])
            if progress and copies:
                progress(len(copies))
            if on_result:
                for i in waiting[key]:
                    on_result(i, results[i])

        if sent:
            fresh = self.inner.chat([conversations[i] for i in sent], params, progress=progress, on_result=arrived)
            for position, result in enumerate(fresh):  # a backend that did not report each answer as it came
                arrived(position, result)
        return results

    def close(self) -> None:
        self.inner.close()
