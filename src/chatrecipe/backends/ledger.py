"""One ledger of tokens and cost across every use of a judge or generator, with a spending cap.

Prices are dollars per million tokens from an editable table (`$CHATRECIPE_HOME/prices.yaml` overrides the
defaults); local models cost nothing. `check` refuses a request batch that would cross `max_cost`, so a run
stops cleanly before overspending rather than after.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PRICES = {  # $ per 1M tokens: (input, output); edit or extend in $CHATRECIPE_HOME/prices.yaml
    "gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60), "gpt-4.1": (2.00, 8.00), "gpt-4.1-mini": (0.40, 1.60),
}


RETRY_FIGURES = ("retries", "retry_after_waits", "retry_after_capped", "retry_wait_seconds")


class BudgetExceeded(RuntimeError):
    """The next requests would cross the spending cap; nothing was sent."""


def load_prices() -> dict[str, tuple[float, float]]:
    import yaml

    from chatrecipe.data.resources import chatrecipe_home

    prices = dict(DEFAULT_PRICES)
    path = chatrecipe_home() / "prices.yaml"
    if path.is_file():
        for model, pair in (yaml.safe_load(path.read_text()) or {}).items():
            prices[model] = (float(pair[0]), float(pair[1]))
    return prices


@dataclass
class Ledger:
    max_cost: float | None = None
    prices: dict = field(default_factory=load_prices)
    usage: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price_in, price_out = self.prices.get(model, (0.0, 0.0))
        return (prompt_tokens * price_in + completion_tokens * price_out) / 1e6

    @property
    def total_cost(self) -> float:
        return sum(entry["cost"] for entry in self.usage.values())

    def check(self, model: str, prompt_tokens: int, max_completion_tokens: int) -> None:
        """Refuse before sending when the worst case of this request would cross the cap."""
        if self.max_cost is None:
            return
        worst = self.total_cost + self.cost(model, prompt_tokens, max_completion_tokens)
        if worst > self.max_cost:
            raise BudgetExceeded(f"spending cap ${self.max_cost:.2f} would be exceeded (spent "
                                 f"${self.total_cost:.4f}); raise --max-cost to continue — finished work is cached")

    def _entry(self, model: str) -> dict:
        return self.usage.setdefault(model, {"requests": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                             "cost": 0.0})

    def waited(self, model: str, seconds: float, *, retry_after: bool = False, capped: bool = False) -> None:
        """One retry of `model` after `seconds` of waiting; `retry_after` when the server asked for the wait,
        `capped` when it asked for more than the cap allows, so a slow run says where its time went.

        The retry figures join a model's entry with its first retry (a run without retries keeps the short form).
        """
        with self._lock:
            entry = self._entry(model)
            for name in RETRY_FIGURES:
                entry.setdefault(name, 0)
            entry["retries"] += 1
            entry["retry_after_waits"] += retry_after
            entry["retry_after_capped"] += capped
            entry["retry_wait_seconds"] = round(entry["retry_wait_seconds"] + seconds, 3)

    def record(self, model: str, prompt_tokens: int, completion_tokens: int, cached: bool = False) -> None:
        with self._lock:
            entry = self._entry(model)
            entry["requests"] += 1
            if cached:
                entry["cached"] += 1
                return
            entry["prompt_tokens"] += prompt_tokens
            entry["completion_tokens"] += completion_tokens
            entry["cost"] += self.cost(model, prompt_tokens, completion_tokens)

    def estimate(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        return self.cost(model, prompt_tokens, completion_tokens)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"usage": self.usage, "total_cost": self.total_cost}, indent=1))
