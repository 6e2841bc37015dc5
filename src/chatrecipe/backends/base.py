"""The one interface every answering backend implements: a batch of chat requests in, one result per request out.

Judges, generators, synthesis and the annotation app all talk to a `Backend`; they never know whether the answer
came from local transformers, vLLM or an HTTP endpoint. A result is never an exception: a request that failed
for good comes back with `error` set, so callers record the failure and count it instead of crashing or
inventing a default.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings; part of every cache key, so changing one never reuses an old answer."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def to_dict(self) -> dict:
        return {**asdict(self), "stop": list(self.stop)}


@dataclass
class ChatResult:
    """One answer: `text` (None when the request failed for good, with `error` saying why) and its token counts."""

    text: str | None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    cached: bool = False
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.text is not None:
            self.text = whole_characters(self.text)

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


def whole_characters(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD. JSON can carry half a character ("\\ud800"); an endpoint that
    sends one would stop every writer (no UTF-8 file can hold it), and a local model's decode already turns
    undecodable bytes into U+FFFD. Whole pairs ("\\ud83d\\ude00") become their character."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def request_key(model: str, messages: Sequence[dict], params: GenerationParams) -> str:
    """Content key of a request: the same model, parameters and messages always map to the same answer on disk."""
    payload = {"model": model, "params": params.to_dict(), "messages": list(messages)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Backend(ABC):
    """Answers chat requests with one model. `model` is the name results are recorded under."""

    model: str
    ledger = None  # a backends.ledger.Ledger when the caller wants tokens and cost accounted

    def book(self, results: list[ChatResult]) -> list[ChatResult]:
        """Record the results' tokens in the ledger (cached answers count as requests, not tokens)."""
        if self.ledger is not None:
            for result in results:
                if result.ok:
                    self.ledger.record(getattr(self, "api_model", self.model), result.prompt_tokens,
                                       result.completion_tokens, cached=result.cached)
        return results

    @abstractmethod
    def chat(self, conversations: Sequence[Sequence[dict]], params: GenerationParams | None = None,
             *, progress: Callable[[int], None] | None = None,
             on_result: Callable[[int, ChatResult], None] | None = None) -> list[ChatResult]:
        """Answer each conversation (a list of messages ending with a user turn), in order.

        `progress`, when given, is called with the number of requests just finished, for progress bars.
        `on_result(index, result)`, when given, is called once per conversation as soon as its answer is in,
        before `chat` returns: the cache and the judgment files write there, so a killed run keeps every answer
        that came back instead of losing the whole batch.
        """

    def prompt_tokens(self, messages: Sequence[dict]) -> int | None:
        """Tokens the prompt of `messages` takes, where the backend can tell (None: it cannot)."""
        return None

    context_window: int | None = None  # prompt + answer tokens the model can attend to, where known

    def describe(self) -> dict:
        """Provenance of this backend for result files (never includes secrets)."""
        return {"backend": type(self).__name__, "model": self.model}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (servers, GPU memory)."""


class ScriptedBackend(Backend):
    """A deterministic backend for logic tests and `--dry-run`: answers come from a function of the messages.

    It stands in for a model where the model itself is not what is tested (verdict parsing, both-order logic,
    synthesis filters); everything that talks to a real model is tested against real ones.
    """

    def __init__(self, respond: Callable[[list[dict]], str | None], model: str = "scripted"):
        self.respond = respond
        self.model = model
        self.calls = 0

    def chat(self, conversations, params=None, *, progress=None, on_result=None):
        results = []
        for index, messages in enumerate(conversations):
            self.calls += 1
            try:
                text = self.respond(list(messages))
            except Exception as exc:  # a script may raise to simulate a failed request
                result = ChatResult(text=None, error=f"{type(exc).__name__}: {exc}")
            else:
                result = ChatResult(text=text, error=None if text is not None else "empty response",
                                    prompt_tokens=sum(len(m["content"].split()) for m in messages),
                                    completion_tokens=len((text or "").split()))
            results.append(result)
            if progress:
                progress(1)
            if on_result:
                on_result(index, result)
        return results
