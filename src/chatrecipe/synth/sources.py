"""What synthesis starts from: seed tasks, personas, the blacklist and prompt templates, shipped or the user's.

`synth:NAME` names a file shipped in `chatrecipe/resources/synth/`; anything else is a path (other shipped
prefixes such as `mix:` and `starter:` resolve as everywhere else). Bad rows are reported with file, line and
field and never stop the valid ones from being used.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from chatrecipe.data.records import iter_rows
from chatrecipe.data.resources import resource_path
from chatrecipe.data.schema import CATEGORIES
from chatrecipe.judge.prompts import JudgePrompt, load_prompt


class SynthInputError(ValueError):
    """An input synthesis cannot use at all; the message names the file and what to do."""


def synth_path(ref: str | Path) -> Path:
    """A `synth:` resource or any other reference `resource_path` knows."""
    ref = str(ref)
    if ref.startswith("synth:"):
        return Path(str(files("chatrecipe") / "resources" / "synth" / ref[len("synth:"):]))
    return resource_path(ref)


def _rows(ref: str, required: tuple[str, ...], what: str) -> tuple[list[dict], list[dict]]:
    path = synth_path(ref)
    if not path.exists():
        raise SynthInputError(f"{ref}: no such {what} file; give a JSONL path or a shipped synth: name")
    good, bad = [], []
    for row in iter_rows(path):
        if row.error:
            bad.append({"file": row.file, "line": row.line, "field": None, "reason": row.error, "record": row.text})
            continue
        missing = [f for f in required if not isinstance(row.data.get(f), str) or not row.data[f].strip()]
        category = row.data.get("category") or "other"
        if missing:
            bad.append({"file": row.file, "line": row.line, "field": missing[0],
                        "reason": f"{what} needs a non-empty text `{missing[0]}`", "record": row.data})
        elif category not in CATEGORIES:
            bad.append({"file": row.file, "line": row.line, "field": "category",
                        "reason": f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}",
                        "record": row.data})
        else:
            good.append({**row.data, "category": category})
    if not good:
        raise SynthInputError(f"{path}: no usable {what} rows ({len(bad)} rejected; first: "
                              f"{bad[0]['reason'] if bad else 'the file is empty'})")
    return good, bad


def load_seed_tasks(ref: str) -> tuple[list[dict], list[dict]]:
    """Seed tasks (instruction, optional input, output, category) and the rows rejected with reasons."""
    tasks, bad = _rows(ref, ("instruction", "output"), "seed task")
    return [{"instruction": t["instruction"].strip(), "input": (t.get("input") or "").strip(),
             "output": t["output"].strip(), "category": t["category"], "id": t.get("id")} for t in tasks], bad


def load_personas(ref: str) -> tuple[list[dict], list[dict]]:
    """Personas with goals (persona, goal, category) and the rows rejected with reasons."""
    personas, bad = _rows(ref, ("persona", "goal"), "persona")
    return [{"persona": p["persona"].strip(), "goal": p["goal"].strip(), "category": p["category"],
             "id": p.get("id")} for p in personas], bad


def load_blacklist(ref: str) -> list[str]:
    """Blacklisted words, one per line; `#` starts a comment."""
    path = synth_path(ref)
    if not path.is_file():
        raise SynthInputError(f"{ref}: no such blacklist file; one word per line")
    lines = (line.split("#", 1)[0].strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def load_template(ref: str) -> JudgePrompt:
    """A synthesis prompt template, in the judge prompts' file format (`[system]`, `[user]`, `{{name}}`)."""
    path = synth_path(ref)
    if path.suffix != ".txt" or not path.is_file():
        raise SynthInputError(f"{ref}: no such prompt template (.txt with [system] and [user] parts)")
    return load_prompt(str(path))
