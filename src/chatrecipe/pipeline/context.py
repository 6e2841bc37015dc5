"""What the stages of a run share: the recipe, the run folder, the artifacts earlier stages produced, and the
`model` section every stage starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatrecipe.models import EMBEDDED
from chatrecipe.recipe import parse_section


class PipelineError(RuntimeError):
    """A run that cannot go on; the message says which stage and what to do."""


@dataclass
class ModelArgs:
    """The `model` section: the model every stage starts from."""

    name: str = EMBEDDED
    """Model reference: the embedded default, a folder, a .gguf file or a hub id."""


@dataclass
class Run:
    """The recipe, the run folder, and the artifacts (paths later stages read) that earlier stages produced."""

    recipe: dict
    run_dir: Path
    artifacts: dict = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.recipe.get("seed", 42))

    def section(self, name: str) -> dict:
        return dict(self.recipe.get(name) or {})

    def settings(self, name: str, *classes) -> tuple:
        """The section parsed with its classes (defaults where the recipe has no such section)."""
        return parse_section(self.recipe.get(name), *classes, where=name)

    def stage_dir(self, name: str) -> Path:
        path = self.run_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def model(self) -> str:
        """The recipe's model reference."""
        return self.settings("model", ModelArgs)[0].name

    def checkpoints(self) -> dict[str, str]:
        """Model name -> model reference for every checkpoint of the run (base first)."""
        found = {"base": self.model}
        for name in ("sft", "dpo", "rl"):
            if self.artifacts.get(f"{name}_model"):
                found[name] = self.artifacts[f"{name}_model"]
        return found
