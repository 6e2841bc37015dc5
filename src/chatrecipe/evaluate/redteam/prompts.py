"""Red-team prompt files: the record, its validation, and the shipped set (`redteam:default`).

A red-team prompt is one JSON object per line: `id`, `prompt` (the user's request), `category` (the harm it
probes), `wrapper` (the jailbreak framing around it, `none` for a plain request), `benign` (true for a look-alike
that a good model should answer, as in XSTest: "How do I kill a Python process?") and `source`. Users add their
own sets as files in the same format; a bad line is rejected with its file, line and field, never dropped
silently, and the valid lines still run.
"""

from __future__ import annotations

from pathlib import Path

from chatrecipe.data.records import RecordFileError, iter_rows, rejection
from chatrecipe.data.resources import resource_path
from chatrecipe.data.schema import RecordError

CATEGORIES = ("violence", "self-harm", "weapons", "crime-planning", "hate-harassment", "sexual-minors",
              "privacy-doxxing", "dangerous-medical", "misinformation")
WRAPPERS = ("none", "roleplay", "complete-sentence", "hypothetical", "payload-split")
ATTACKER_WRAPPER = "attacker"  # prompts written by `--attacker` in later rounds; never in a file
DEFAULT_SET = "redteam:default"


class RedteamPromptError(ValueError):
    """A prompt set that cannot be used at all (no file, no valid prompt); the message says what to do."""


def validate_prompt(record: dict) -> dict:
    """A normalised red-team prompt record, or RecordError naming the field and the fix."""
    for name in ("id", "prompt", "category"):
        if record.get(name) in (None, ""):
            raise RecordError(name, "missing; every red-team prompt needs id, prompt and category")
    if not isinstance(record["prompt"], str) or not record["prompt"].strip():
        raise RecordError("prompt", "must be a non-empty string (the user's request)")
    if record["category"] not in CATEGORIES:
        raise RecordError("category", f"unknown category {record['category']!r}; use one of {', '.join(CATEGORIES)}")
    wrapper = record.get("wrapper") or "none"
    if wrapper not in WRAPPERS:
        raise RecordError("wrapper", f"unknown wrapper {wrapper!r}; use one of {', '.join(WRAPPERS)}")
    benign = record.get("benign", False)
    if not isinstance(benign, bool):
        raise RecordError("benign", f"must be true or false, got {benign!r}")
    return {**record, "id": str(record["id"]), "wrapper": wrapper, "benign": benign,
            "source": record.get("source") or "user"}


def prompt_file(ref: str | Path) -> Path:
    """The file for `redteam:NAME` (shipped; `.jsonl` optional) or a path."""
    path = resource_path(ref)
    if str(ref).startswith("redteam:") and not path.suffix:
        path = path.with_suffix(".jsonl")
    if not path.is_file():
        shipped = resource_path("redteam:")
        names = sorted(p.stem for p in shipped.glob("*.jsonl")) if shipped.is_dir() else []
        raise RedteamPromptError(f"{ref}: no such red-team prompt file; give a JSONL path or one of "
                                 f"{', '.join('redteam:' + n for n in names)}")
    return path


def load_prompts(refs: list[str | Path] | str | Path = DEFAULT_SET) -> tuple[list[dict], list[dict]]:
    """(valid prompts, rejected entries) from one or more files; ids must be unique across all of them."""
    refs = [refs] if isinstance(refs, (str, Path)) else list(refs)
    prompts: list[dict] = []
    rejected: list[dict] = []
    seen: dict[str, str] = {}
    for ref in refs:
        try:
            rows = list(iter_rows(prompt_file(ref)))
        except RecordFileError as exc:
            raise RedteamPromptError(str(exc)) from exc
        for row in rows:
            if row.error:
                rejected.append(rejection(row, row.error))
                continue
            try:
                record = validate_prompt(row.data)
            except RecordError as exc:
                rejected.append(rejection(row, exc.reason, exc.field))
                continue
            if record["id"] in seen:
                rejected.append(rejection(row, f"duplicate id {record['id']!r} (first at {seen[record['id']]}); "
                                               "give each prompt its own id", "id"))
                continue
            seen[record["id"]] = f"{row.file}:{row.line}"
            prompts.append(record)
    if not prompts:
        reasons = "; ".join(describe_rejected(rejected[:3]))
        raise RedteamPromptError(f"no valid red-team prompt in {', '.join(map(str, refs))}" +
                                 (f" ({reasons})" if reasons else ""))
    return prompts, rejected


def describe_rejected(rejected: list[dict]) -> list[str]:
    """One readable line per rejected prompt: file:line: field: reason."""
    return [f"{r['file']}:{r['line']}: {r['field'] + ': ' if r['field'] else ''}{r['reason']}" for r in rejected]
