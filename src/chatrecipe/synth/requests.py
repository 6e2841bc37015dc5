"""How synthesis talks to models: cached, accounted backends, distinct seeds per sample, and a failure stop.

Every request goes through the backend's content-keyed disk cache, written as each answer arrives, so a rerun
after a crash (even SIGKILL mid-batch) pays for nothing twice. Two identical requests in one batch (k samples of
one prompt, or two tasks that drew the same examples) would share a cache key and hence one answer;
`Requester.ask` gives the n-th copy of a request seed + n, so each sample has its own key and its own answer,
and a rerun gets the same answers back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from chatrecipe.backends.base import Backend, ChatResult, GenerationParams
from chatrecipe.backends.ledger import RETRY_FIGURES


class SynthStopped(RuntimeError):
    """Synthesis stopped before the end (failing endpoint, spending cap); finished answers are cached."""


class Counted(Backend):
    """Counts every request and failure that reaches a (cached) backend, whoever sends it (the judge too).

    `inner` is the backend doing the work, so the judge's cost estimate finds its ledger and price.
    """

    def __init__(self, cached: Backend):
        self.cached, self.model = cached, cached.model
        self.inner = getattr(cached, "inner", cached)
        self.requests = self.failed = 0
        self.seconds = 0.0

    def describe(self) -> dict:
        return self.cached.describe()

    def chat(self, conversations, params=None, *, progress=None, on_result=None):
        started = time.time()
        results = self.cached.chat(conversations, params, progress=progress, on_result=on_result)
        self.seconds += time.time() - started
        self.requests += len(results)
        self.failed += sum(not r.ok for r in results)
        return results

    def close(self) -> None:
        self.cached.close()


@dataclass
class Requester:
    """Backends by model reference, sharing one ledger, one cache and one failure rule."""

    cache_dir: Path
    base_url: str | None = None
    batch_size: int = 8
    max_concurrency: int = 16
    dtype: str | None = None
    max_cost: float | None = None
    max_failed_fraction: float = 0.25
    backends: dict = field(default_factory=dict)

    def __post_init__(self):
        from chatrecipe.backends.ledger import Ledger

        self.ledger = Ledger(max_cost=self.max_cost)

    def backend(self, ref: str) -> Backend:
        """The (cached, accounted) backend for a model reference, loaded once."""
        if ref not in self.backends:
            from chatrecipe.backends import load_backend

            self.backends[ref] = Counted(load_backend(
                ref, cache_dir=self.cache_dir, ledger=self.ledger, name=ref, batch_size=self.batch_size,
                dtype=self.dtype, base_url=self.base_url, max_concurrency=self.max_concurrency))
        return self.backends[ref]

    def use(self, ref: str, backend: Backend) -> None:
        """Answer `ref` with a ready backend (a ScriptedBackend in tests, a shared local model)."""
        from chatrecipe.backends.cache import CachedBackend

        backend.ledger = self.ledger
        self.backends[ref] = Counted(backend if isinstance(backend, CachedBackend)
                                     else CachedBackend(backend, self.cache_dir))

    def ask(self, ref: str, conversations: list[list[dict]], params: GenerationParams, label: str) -> list[ChatResult]:
        """Answers in order; the n-th identical copy of a request is sampled with seed + n (own cache key)."""
        from chatrecipe.backends.ledger import BudgetExceeded
        from chatrecipe.progress import progress_bar

        if not conversations:
            return []
        backend = self.backend(ref)
        seen: dict[str, int] = {}
        waves: dict[int, list[int]] = {}
        for index, messages in enumerate(conversations):
            key = json.dumps(messages, sort_keys=True)
            copy = seen.get(key, 0)
            seen[key] = copy + 1
            waves.setdefault(copy, []).append(index)
        results: list[ChatResult | None] = [None] * len(conversations)
        with progress_bar(f"{label} ({ref})", len(conversations)) as advance:
            for copy, indices in sorted(waves.items()):
                wave_params = params if copy == 0 else GenerationParams(
                    max_new_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
                    stop=params.stop, seed=(params.seed or 0) + copy)
                try:
                    answers = backend.chat([conversations[i] for i in indices], wave_params,
                                           progress=advance)
                except BudgetExceeded as exc:
                    raise SynthStopped(f"{label}: {exc}") from exc
                for i, answer in zip(indices, answers):
                    results[i] = answer
        failed = [r for r in results if not r.ok]
        if len(failed) > self.max_failed_fraction * len(results):
            raise SynthStopped(
                f"{label}: {len(failed)} of {len(results)} requests to {ref} failed after retries (first: "
                f"{failed[0].error}). Answers received so far are cached in {self.cache_dir}; fix the endpoint and "
                "run the same command again: it resumes without paying for them twice.")
        return results

    def usage(self) -> dict:
        """Requests, cache hits, tokens, cost and throughput of this run (the ledger's numbers)."""
        by_model = {m: dict(u) for m, u in self.ledger.usage.items()}
        tokens = sum(u["prompt_tokens"] + u["completion_tokens"] for u in by_model.values())
        completion = sum(u["completion_tokens"] for u in by_model.values())
        counted = self.backends.values()
        seconds = sum(b.seconds for b in counted)
        return {"requests": sum(b.requests for b in counted), "failed": sum(b.failed for b in counted),
                "cached": sum(u["cached"] for u in by_model.values()),
                "prompt_tokens": sum(u["prompt_tokens"] for u in by_model.values()),
                "completion_tokens": completion, "cost": round(self.ledger.total_cost, 6),
                "priced": any(m in self.ledger.prices for m in by_model), "generation_seconds": round(seconds, 2),
                "completion_tokens_per_second": round(completion / seconds, 2) if seconds else None,
                "tokens_per_second": round(tokens / seconds, 2) if seconds else None,
                **{name: sum(u.get(name, 0) for u in by_model.values()) for name in RETRY_FIGURES},
                "by_model": by_model}

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()
