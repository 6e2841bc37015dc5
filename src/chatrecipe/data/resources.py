"""Where chatrecipe's files are: the ones it ships (`starter:sft.jsonl`, `questions:...`, `redteam:...`,
`rm:...`) and the folder for its caches (`$CHATRECIPE_HOME`)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

PREFIXES = {"starter:": "starter", "questions:": "questions", "redteam:": "redteam", "rm:": "rm_testsets",
            "mix:": "mixes", "classify:": "classify"}
STARTER_SFT, STARTER_PREFERENCES = "starter:sft.jsonl", "starter:preferences.jsonl"
STARTER_NOTICE = ("the recipe names no data, so it trains on the shipped starter sets (toy data: 120 conversations, "
                  "94 preference pairs); name data.sft_files and data.preference_files to train on yours")


def training_files(sft_files: list | None, preference_files: list | None, extra_sft: list = (),
                   extra_preferences: list = ()) -> tuple[list, list, bool]:
    """(SFT files, preference files, whether the starter sets stand in) for a recipe's data section.

    The starter sets are toy data: they stand in only when a recipe names no data at all (and synth made none).
    Naming any file replaces both, so a team's own SFT files never get the starter pairs mixed into their reward
    model and DPO; a stage left without data then says so instead of training on toy pairs.
    """
    sft = [*(sft_files or []), *extra_sft]
    preferences = [*(preference_files or []), *extra_preferences]
    if sft or preferences:
        return sft, preferences, False
    return [STARTER_SFT], [STARTER_PREFERENCES], True


def resource_path(ref: str | Path) -> Path:
    """A shipped file for a `prefix:name` reference; anything else is taken as a path."""
    ref = str(ref)
    for prefix, folder in PREFIXES.items():
        if ref.startswith(prefix):
            return Path(str(files("chatrecipe") / "resources" / folder / ref[len(prefix):]))
    return Path(ref)


def chatrecipe_home() -> Path:
    """$CHATRECIPE_HOME (unset or empty: ~/.cache/chatrecipe): converted models and shared caches, never inside the
    installed package. It lives here, on the ground floor, so that `data` and everything above can ask for it."""
    return Path(os.environ.get("CHATRECIPE_HOME") or Path.home() / ".cache" / "chatrecipe")


def stage_files(stage: str, sft: list, preferences: list) -> list:
    """The files a training stage reads (SFT conversations; the reward model, DPO and RL preference pairs), or a
    ValueError saying which data key to fill: a stage is never handed the other kind, nor toy data in silence."""
    key, files, toy = (("sft_files", sft, STARTER_SFT) if stage == "sft" else
                       ("preference_files", preferences, STARTER_PREFERENCES))
    if not files:
        raise ValueError(f"{stage}: the recipe names data files but no data.{key}, so {stage} has nothing to train "
                         f"on; name data.{key} ({toy} is the shipped toy set) or remove the section")
    return files
