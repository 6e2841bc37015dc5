"""Training stages, each a thin module over a TRL trainer: sft, reward, dpo, rl."""


def config_classes(stage: str) -> tuple:
    """The dataclasses a training section (`sft`, `rm`, `dpo`, `rl`) is parsed with."""
    from chatrecipe.train.args import config_classes as classes

    return classes(stage)
