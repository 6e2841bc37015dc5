"""On-disk answer cache: each (model, parameters, messages) is paid for once, across reruns and crashes.

Entries are one small JSON file each, named by the request's content key and written atomically, so parallel
runs cannot collide and a killed run leaves only complete entries. Failed requests are not cached: a rerun
tries them again.
"""

from __future__ import annotations

import json
import os
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
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"text": result.text, "prompt_tokens": result.prompt_tokens,
                                   "completion_tokens": result.completion_tokens,
                                   "finish_reason": result.finish_reason}), encoding="utf-8")
        tmp.replace(path)

    def chat(self, conversations, params=None, *, progress=None):
        params = params or GenerationParams()
        keys = [request_key(self.identity, m, params) for m in conversations]
        results = [self._read(k) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        self.hits += len(keys) - len(missing)
        self.inner.book([r for r in results if r is not None])  # cache hits: requests without new tokens
        self.misses += len(missing)
        if progress and len(keys) > len(missing):
            progress(len(keys) - len(missing))
        if missing:
            fresh = self.inner.chat([conversations[i] for i in missing], params, progress=progress)
            for i, result in zip(missing, fresh):
                if result.ok:
                    self._write(keys[i], result)
                results[i] = result
        return results

    def close(self) -> None:
        self.inner.close()
