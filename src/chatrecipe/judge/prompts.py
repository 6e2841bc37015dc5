"""Judge prompt templates: one text file each, `[system]` and `[user]` parts, `{{name}}` placeholders.

Templates only substitute variables; choosing a template (reference-guided for math, reasoning and coding;
multi-turn for second turns) is logic and lives in Python. Users add a judge by dropping a file in and passing
its path. The hash of the exact template text goes into every judgment, so a number can be traced to its prompt.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

REFERENCE_CATEGORIES = {"math", "reasoning", "coding"}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    system: str
    user: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(f"{self.system}\n{self.user}".encode()).hexdigest()[:12]

    def render(self, **values: str) -> list[dict]:
        """Chat messages with every placeholder filled; a missing value is an error, never an empty string."""
        def fill(text: str) -> str:
            def value(match):
                if match.group(1) not in values:
                    raise KeyError(f"judge prompt {self.name!r} needs {{{{{match.group(1)}}}}}")
                return str(values[match.group(1)])
            return _PLACEHOLDER.sub(value, text)

        messages = [{"role": "system", "content": fill(self.system)}] if self.system else []
        return messages + [{"role": "user", "content": fill(self.user)}]


def _folder():
    return files("chatrecipe") / "judge" / "prompts"


def list_prompts() -> list[str]:
    return sorted(p.name[:-4] for p in _folder().iterdir() if p.name.endswith(".txt"))


def load_prompt(name_or_path: str) -> JudgePrompt:
    """A shipped template by name (`pairwise`) or any template file by path."""
    path = Path(name_or_path)
    text = path.read_text(encoding="utf-8") if path.suffix == ".txt" and path.is_file() else None
    if text is None:
        candidate = _folder() / f"{name_or_path}.txt"
        if not candidate.is_file():
            raise FileNotFoundError(f"no judge prompt {name_or_path!r}; shipped: {', '.join(list_prompts())}")
        text = candidate.read_text(encoding="utf-8")
    system, _, user = text.partition("[user]")
    return JudgePrompt(name=path.stem if path.suffix else name_or_path,
                       system=system.replace("[system]", "", 1).strip(), user=user.strip())


def question_hash(question: dict) -> str:
    """Hash of what the judge saw of a question: its turns and reference answers (provenance of every verdict)."""
    import json

    payload = json.dumps({"turns": question["turns"], "reference": question.get("reference")}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def prompt_for(kind: str, category: str | None, turn: int, has_reference: bool, override: str | None = None) -> str:
    """Which template judges this item: reference-guided where a reference exists for math/reasoning/coding."""
    if override:
        return override
    if turn > 1:
        return f"{kind}-multiturn"
    if has_reference and (category or "") in REFERENCE_CATEGORIES:
        return f"{kind}-reference"
    return kind
