"""Battles as columns: the table every rating is fitted from, built once from the battle records.

A battle is a record with `model_a`, `model_b` and `winner` (model_a, model_b, tie, tie (bothbad)), as Chatbot
Arena publishes them and as `annotate export --kind battle` writes them (evaluate/battle_files.py reads them).
The table is three integer columns built in one pass over the records, so the fits and bootstraps of a million
battles work on numpy arrays, never on a million dicts.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

WINNERS = {"model_a", "model_b", "tie", "tie (bothbad)"}
# outcome codes are twice model_a's score, as FastChat's preprocessing codes them: 2 won, 1 tie, 0 lost
CODES = {"model_a": 2, "model_b": 0, "tie": 1, "tie (bothbad)": 1}


class BattleError(ValueError):
    """Battles that cannot be rated (one model, disconnected comparisons, unknown labels); says which."""


@dataclass(frozen=True)
class BattleTable:
    """Battles as columns: `a`, `b` index `models` (sorted names); `code` is 2 (model_a won), 1 (tie), 0."""

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    code: np.ndarray

    def __len__(self) -> int:
        return len(self.code)

    @property
    def score(self) -> np.ndarray:
        """model_a's score per battle: 1 won, 0.5 tie, 0 lost."""
        return self.code / 2.0

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Strict wins W (W[i, j]: i beat j) and ties T (upper triangle), counted in one bincount each."""
        n = len(self.models)
        winner = np.where(self.code == 2, self.a, self.b)
        loser = np.where(self.code == 2, self.b, self.a)
        decisive = self.code != 1
        wins = np.bincount(winner[decisive] * n + loser[decisive], minlength=n * n).reshape(n, n)
        low, high = np.minimum(self.a, self.b)[~decisive], np.maximum(self.a, self.b)[~decisive]
        ties = np.bincount(low * n + high, minlength=n * n).reshape(n, n)
        return wins.astype(float), ties.astype(float)

    def battle_counts(self) -> dict[str, int]:
        """How many battles each model played."""
        played = np.bincount(np.concatenate([self.a, self.b]), minlength=len(self.models))
        return {m: int(c) for m, c in zip(self.models, played) if c}

    def decisive(self) -> "BattleTable":
        """The battles that were not ties, over the models that still appear in them (re-indexed)."""
        keep = self.code != 1
        a, b = self.a[keep], self.b[keep]
        present = np.unique(np.concatenate([a, b]))
        remap = np.full(len(self.models), -1)
        remap[present] = np.arange(len(present))
        return BattleTable([self.models[i] for i in present], remap[a], remap[b], self.code[keep])


def battle_table(battles: list[dict] | BattleTable) -> BattleTable:
    """The columnar table of a list of battle records; refuses unknown labels and missing model names, naming them."""
    if isinstance(battles, BattleTable):
        return battles
    try:
        names_a = [b["model_a"] for b in battles]
        names_b = [b["model_b"] for b in battles]
    except (KeyError, TypeError):
        bad = next(i for i, b in enumerate(battles) if not isinstance(b, dict) or "model_a" not in b
                   or "model_b" not in b)
        raise BattleError(f"battle {bad + 1} has no model_a/model_b: {str(battles[bad])[:200]}") from None
    code = np.array([CODES.get(b.get("winner"), -1) for b in battles], dtype=np.int8)
    if (code < 0).any():
        unknown = sorted({str(battles[i].get("winner")) for i in np.flatnonzero(code < 0)[:1000]})
        raise BattleError(f"unknown winner label(s) {', '.join(unknown)} (first in battle "
                          f"{int(np.argmax(code < 0)) + 1}); use model_a, model_b, tie, tie (bothbad)")
    models = sorted(set(names_a) | set(names_b), key=str)
    index = {m: i for i, m in enumerate(models)}
    a = np.fromiter(map(index.__getitem__, names_a), dtype=np.int64, count=len(names_a))
    b = np.fromiter(map(index.__getitem__, names_b), dtype=np.int64, count=len(names_b))
    return BattleTable(models, a, b, code)


@contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector while millions of parsed dicts are made: each collection walks
    every container alive, so reading a million battles paid for the same walk over and over (3x the parse
    time). Parsed JSON holds no reference cycles, so nothing is left for the collector when it resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
