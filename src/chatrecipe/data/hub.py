"""Hugging Face Hub dataset ids as record sources: `HuggingFaceH4/ultrachat_200k` reads like a `datasets` folder.

A name that is no local path but looks like `owner/name` is loaded with `datasets.load_dataset`, every split
of its default configuration; `owner/name[split]` (the way rejected rows name their split) loads that one split,
as recipes need: ultrachat_200k's SFT rows are `train_sft`, ultrafeedback_binarized's pairs `train_prefs`. Offline (HF_HUB_OFFLINE=1, or no network) that works only from the local
`datasets` cache, where an earlier load left the prepared dataset; otherwise the error says so and how to warm
the cache, instead of a network traceback.
"""

from __future__ import annotations

import re

# owner/name or owner/name[split], without a file suffix (data/train.jsonl is a missing file, not a dataset)
_HUB_ID = re.compile(r"^(?P<name>[A-Za-z0-9][\w.-]*/[\w.-]+?)(?:\[(?P<split>[\w.-]+)\])?$")
_FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".gz")


class HubDatasetError(ValueError):
    """A Hub dataset id that could not be loaded; the message says why and what to do."""


def looks_like_hub_id(name: str) -> bool:
    found = _HUB_ID.match(name)
    return bool(found) and not found["name"].lower().endswith(_FILE_SUFFIXES)


def load_hub_splits(ref: str) -> list[tuple[str, object]]:
    """[(split, datasets.Dataset)] of the Hub dataset `ref` (`owner/name` or `owner/name[split]`), from the cache
    when offline."""
    import datasets

    found = _HUB_ID.match(ref)
    name, split = found["name"], found["split"]
    try:
        loaded = datasets.load_dataset(name, split=split) if split else datasets.load_dataset(name)
    except Exception as exc:  # datasets raises ConnectionError, FileNotFoundError, DatasetNotFoundError, ValueError
        offline = datasets.config.HF_HUB_OFFLINE
        where = datasets.config.HF_DATASETS_CACHE
        raise HubDatasetError(
            f"{ref}: no such file or folder, and not a Hub dataset that could be loaded "
            f"({'offline mode: ' if offline else ''}{type(exc).__name__}: {str(exc)[:300]}). Offline, a Hub dataset "
            f"loads only from the datasets cache ({where}) after one load with a network: run "
            f"`python -c \"import datasets; datasets.load_dataset('{name}')\"` where there is one (same HF_HOME), "
            "or pass a local file or a save_to_disk folder.") from None
    if isinstance(loaded, datasets.DatasetDict):
        return list(loaded.items())
    return [(split or "train", loaded)]
