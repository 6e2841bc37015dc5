"""Options several command groups share, defined once so they read and behave the same everywhere."""

from __future__ import annotations

import typer

ALLOW_PICKLE = typer.Option(False, "--allow-pickle", help="Load pickled (.bin) weights too. Pickle files can run code "
                            "when they load: only for files you trust (safetensors is the default and safe).")


def apply_allow_pickle(allowed: bool) -> None:
    """--allow-pickle: every model this process loads may then come from pickled weights."""
    if allowed:
        from chatrecipe.models import allow_pickled_weights

        allow_pickled_weights()
