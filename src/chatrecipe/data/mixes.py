"""Target task mixes: InstructGPT, Surge 10K, the H4 preference desiderata, or your own YAML, normalised to 1.

A mix is data, not code: one YAML file with a `mix:` mapping of category -> share (any positive numbers:
percentages and example counts are normalised), plus optional `name`, `description`, and the figures the
recipe's talk gives beside it (`mean_length` per category, `reference_lengths`, `max_total_tokens`,
`mean_turns`). Shipped mixes live in `chatrecipe/resources/mixes/`; users pass a path to their own.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import yaml

from chatrecipe.data.schema import CATEGORIES


def _shipped(name: str) -> Path:
    return Path(str(files("chatrecipe") / "resources" / "mixes" / f"{name}.yaml"))


def list_mixes() -> list[str]:
    """The names of the shipped mixes."""
    return sorted(p.name[:-5] for p in (files("chatrecipe") / "resources" / "mixes").iterdir()
                  if p.name.endswith(".yaml"))


def load_mix_file(name_or_path: str | Path) -> dict:
    """The whole mix file (name, description, mix, and any reference figures), `mix` normalised to 1."""
    path = Path(name_or_path)
    if not path.is_file():
        path = _shipped(str(name_or_path))
    if not path.is_file():
        raise ValueError(f"unknown task mix {name_or_path!r}; shipped: {', '.join(list_mixes())}, or a YAML path")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a mix file is a mapping with a `mix:` section")
    info = dict(raw) if "mix" in raw else {"mix": raw}
    info.setdefault("name", path.stem)
    info["mix"] = normalise(info["mix"], where=str(path))
    return info


def normalise(shares: dict, where: str = "mix") -> dict[str, float]:
    """Category -> share summing to 1; unknown categories and negative or non-numeric shares are errors."""
    if not isinstance(shares, dict) or not shares:
        raise ValueError(f"{where}: a mix needs a mapping of category -> share")
    unknown = [k for k in shares if k not in CATEGORIES]
    if unknown:
        raise ValueError(f"{where}: unknown categories {unknown}; use {', '.join(CATEGORIES)}")
    bad = [k for k, v in shares.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0]
    if bad:
        raise ValueError(f"{where}: shares must be numbers >= 0 (check {', '.join(bad)})")
    total = float(sum(shares.values()))
    if total <= 0:
        raise ValueError(f"{where}: a mix needs positive shares")
    return {k: float(v) / total for k, v in shares.items()}


def load_mix(name_or_path: str | Path | dict) -> dict[str, float]:
    """Category -> share (sums to 1). Accepts a shipped name, a YAML path (`mix:` mapping or flat), or a dict."""
    if isinstance(name_or_path, dict):
        return normalise(name_or_path)
    return load_mix_file(name_or_path)["mix"]


def mix_name(name_or_path: str | Path | dict) -> str:
    """A short label for a mix in tables and plot legends."""
    if isinstance(name_or_path, dict):
        return "custom"
    path = Path(name_or_path)
    return path.stem if path.suffix in (".yaml", ".yml") else str(name_or_path)
