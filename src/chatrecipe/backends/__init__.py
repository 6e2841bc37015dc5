"""Who answers a chat request: local transformers, vLLM or any OpenAI-compatible endpoint, behind one interface."""

from __future__ import annotations

from pathlib import Path

from chatrecipe.backends.base import Backend, ChatResult, GenerationParams, ScriptedBackend

__all__ = ["Backend", "ChatResult", "GenerationParams", "ScriptedBackend", "load_backend"]


def load_backend(ref: str, *, cache_dir: str | Path | None = None, ledger=None, name: str | None = None,
                 batch_size: int = 8, dtype: str | None = None, base_url: str | None = None,
                 max_concurrency: int | None = None, max_cost: float | None = None,
                 max_retry_wait: float | None = None) -> Backend:
    """A backend for a model reference, cached on disk when `cache_dir` is given.

    `openai:<model>` talks to an OpenAI-compatible endpoint (`base_url` or OPENAI_BASE_URL, key from
    OPENAI_API_KEY; `max_concurrency` and `max_retry_wait` default to CHATRECIPE_MAX_CONCURRENCY /
    CHATRECIPE_MAX_RETRY_WAIT, else 16 requests in flight and 60 s); `vllm:<model>` uses vLLM on a GPU;
    anything else loads locally with transformers.
    """
    if ref.startswith("openai:"):
        from chatrecipe.backends.openai_client import OpenAIBackend

        backend: Backend = OpenAIBackend(ref.split(":", 1)[1], name=name, base_url=base_url,
                                         max_concurrency=max_concurrency, ledger=ledger, max_cost=max_cost,
                                         max_retry_wait=max_retry_wait)
    elif ref.startswith("vllm:"):
        from chatrecipe.backends.vllm_backend import VLLMBackend

        backend = VLLMBackend(ref.split(":", 1)[1], name=name, dtype=dtype)
    else:
        from chatrecipe.backends.local import TransformersBackend

        backend = TransformersBackend(ref, name=name, batch_size=batch_size, dtype=dtype)
    if ledger is not None:
        backend.ledger = ledger  # every backend books its tokens (and, for priced API models, cost) here
    if cache_dir is not None:
        from chatrecipe.backends.cache import CachedBackend

        backend = CachedBackend(backend, cache_dir)
    return backend
