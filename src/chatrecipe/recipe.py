"""Recipe YAML -> typed stage configs: defaults < YAML < `--set key=value`, and an unknown key is an error.

A recipe is one YAML file with a section per stage (`model`, `data`, `synth`, `sft`, `rm`, `dpo`, `rl`,
`generate`, `judge`, `eval`, `report`). Each stage reads its section into its own dataclasses — TRL's configs
unchanged for training, small `<Stage>Args` for ours — with `parse_section`, which checks every key and value
type before any work starts, naming the offending key.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("model", "data", "synth", "sft", "rm", "dpo", "rl", "generate", "judge", "eval", "report")
TOP_LEVEL = ("name", "seed", "runs_dir", "description") + SECTIONS


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the key and what to write instead."""


def parse_value(text: str) -> Any:
    """A `--set` value as YAML would read it (numbers, booleans, lists), so CLI and file agree."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_override(recipe: dict, assignment: str) -> None:
    """Apply `a.b.c=value` in place (creating sections as needed)."""
    if "=" not in assignment:
        raise RecipeError(f"--set {assignment!r}: write it as key=value, for example sft.learning_rate=1e-5")
    key, text = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = recipe
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"--set {key}: {part!r} is not a section")
        node = child
    node[parts[-1]] = parse_value(text)


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Read a recipe file (safe YAML: no tags that run code) and apply overrides; checks top-level keys."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe; `chatrecipe ls recipes` lists the shipped ones")
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(recipe, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections, got {type(recipe).__name__}")
    recipe = copy.deepcopy(recipe)
    for assignment in overrides:
        apply_override(recipe, assignment)
    unknown = [k for k in recipe if k not in TOP_LEVEL]
    if unknown:
        raise RecipeError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"a recipe's top-level keys are {', '.join(TOP_LEVEL)}")
    for section in SECTIONS:
        if section in recipe and recipe[section] is not None and not isinstance(recipe[section], dict):
            raise RecipeError(f"{path}: section {section!r} must be a mapping of keys")
    recipe.setdefault("name", path.stem)
    recipe.setdefault("seed", 42)
    return recipe


def _matches(value: Any, annotation: Any) -> bool:
    """Whether a YAML value fits a dataclass field's type; unknown or exotic types are accepted."""
    if annotation is Any or annotation is None:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return not args or all(_matches(v, args[0]) for v in value)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if isinstance(annotation, type) and issubclass(annotation, str):  # str enums (TRL's, transformers')
        return isinstance(value, str)
    return True


def _field_types(cls) -> dict:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # forward references we cannot resolve: fall back to accepting
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def parse_section(section: dict | None, *classes, where: str = "section", fixed: dict | None = None) -> tuple:
    """Split a section's keys among dataclasses, check names and types, and build one instance of each.

    A key may belong to several classes (for example `seed`); it is given to each. `fixed` values are added
    by the caller (paths decided by the pipeline) and override the section.
    """
    section = dict(section or {})
    known: dict[str, list] = {}
    for cls in classes:
        for name, annotation in _field_types(cls).items():
            known.setdefault(name, []).append((cls, annotation))
    unknown = sorted(k for k in section if k not in known)
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; see "
                          f"`chatrecipe validate --keys {where.split('.')[0]}` for the accepted keys")
    for key, value in section.items():
        annotation = known[key][0][1]
        if not _matches(value, annotation):
            raise RecipeError(f"{where}.{key}: {value!r} is not a valid {_type_name(annotation)}")
    section.update(fixed or {})
    instances = []
    for cls in classes:
        names = set(_field_types(cls))
        kwargs = {k: v for k, v in section.items() if k in names}
        try:
            instances.append(cls(**kwargs))
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"{where}: {exc}") from exc
    return tuple(instances)


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def section_keys(*classes) -> dict[str, str]:
    """Accepted keys of a section with their types, for `chatrecipe validate --keys` and docs."""
    keys = {}
    for cls in classes:
        for name, annotation in _field_types(cls).items():
            keys.setdefault(name, _type_name(annotation))
    return keys


def dump_recipe(recipe: dict, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
