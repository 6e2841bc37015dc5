"""Target task mixes (InstructGPT, Surge 10K, H4 preference desiderata, or your own YAML), normalised to 1."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import yaml

from chatrecipe.data.schema import CATEGORIES


def list_mixes() -> list[str]:
    return sorted(p.name[:-5] for p in (files("chatrecipe") / "resources" / "mixes").iterdir()
                  if p.name.endswith(".yaml"))


def load_mix(name_or_path: str | dict) -> dict[str, float]:
    """Category -> share (sums to 1). Accepts a shipped name, a YAML path (`mix:` mapping or flat), or a dict."""
    if isinstance(name_or_path, dict):
        raw = name_or_path
    else:
        path = Path(name_or_path)
        if not path.is_file():
            path = Path(str(files("chatrecipe") / "resources" / "mixes" / f"{name_or_path}.yaml"))
        if not path.is_file():
            raise ValueError(f"unknown task mix {name_or_path!r}; shipped: {', '.join(list_mixes())}, or a YAML path")
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw = raw.get("mix", raw)
    unknown = [k for k in raw if k not in CATEGORIES]
    if unknown:
        raise ValueError(f"mix has unknown categories {unknown}; use {', '.join(CATEGORIES)}")
    total = float(sum(raw.values()))
    if total <= 0:
        raise ValueError("a mix needs positive shares")
    return {k: float(v) / total for k, v in raw.items()}
