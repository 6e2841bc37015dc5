"""Strict JSON for record files: refuse what Python's json lets through but JSON and UTF-8 do not hold.

Python reads `NaN`, `Infinity` and `1e999` (as inf) without complaint and writes them back as bare tokens no
other JSON reader accepts; it reads the escape "\\ud800" into a lone surrogate that no UTF-8 file can store, so
the writer crashes on it later, far from the line that brought it in. The rule here: readers parse as Python
does, the schema's validators refuse such values where they land in a record (`problem` names the field, so the
row is rejected with a reason and a NaN in a field nobody reads costs nothing), writers never emit them
(`dumps`), and a rejected row, kept as evidence, is written with the bad values spelled out as text (`evidence`).
Every walk is iterative, so a deeply nested value cannot exhaust the stack.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeValueError(ValueError):
    """A value that strict JSON cannot hold; the message names the field and what to do."""


def _spell(number: float) -> str:
    return "NaN" if number != number else ("Infinity" if number > 0 else "-Infinity")


def _children(path: str, item: Any) -> list[tuple[str, Any]]:
    if isinstance(item, dict):
        return [(f"{path}.{k}" if path else str(k), v) for k, v in item.items()] + \
               [(f"{path}.<key>" if path else "<key>", k) for k in item if isinstance(k, str)]
    if isinstance(item, (list, tuple)):
        return [(f"{path}[{i}]", v) for i, v in enumerate(item)]
    return []


def _clean(value: Any) -> bool:
    """True when `value` holds only JSON-writable values; the fast path every record takes."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii() and _SURROGATE.search(item):  # isascii: a C scan, and most text is ASCII
                return False
        elif kind is dict:
            stack.extend(item.values())
            stack.extend(item)
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif item is None or kind is int or kind is bool:
            pass
        elif isinstance(item, float):  # numpy's float64 and other subclasses json writes as numbers
            if not math.isfinite(item):
                return False
        elif not isinstance(item, (int, str)):
            return False
        elif isinstance(item, str) and _SURROGATE.search(item):
            return False
    return True


def problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """(dotted field, reason) for the first non-finite number, lone surrogate or non-JSON value, else None.

    A clean value costs one walk; only one that fails it is walked again to name the field."""
    return None if _clean(value) else (_locate(value, path) or (path or "value", "cannot be written as JSON"))


def _locate(value: Any, path: str) -> tuple[str, str] | None:
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where or "value", (f"non-finite number {_spell(item)}: JSON has no NaN or Infinity; write a finite "
                                      "number, or null where the value is unknown")
        if isinstance(item, str) and _SURROGATE.search(item):
            return where or "value", ("text holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which no "
                                      "UTF-8 file can store; fix or drop that character")
        if not isinstance(item, (str, int, float, type(None), dict, list, tuple)):
            return where or "value", f"a {type(item).__name__} is not a JSON value; write text or a number"
        stack.extend(reversed(_children(where, item)))  # reversed: the first problem in document order is found first
    return None


def dumps(record: Any) -> str:
    """One JSON line; raises UnsafeValueError (naming the field) rather than write NaN, Infinity, a lone surrogate
    or a value JSON has no form for."""
    try:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError) as exc:
        found = problem(record)
        raise UnsafeValueError(f"field '{found[0]}': {found[1]}" if found else str(exc)) from None
    except RecursionError:
        raise UnsafeValueError("nested too deeply to write as JSON") from None
    if not text.isascii() and _SURROGATE.search(text):  # isascii is a C scan: most lines skip the regex
        found = problem(record)
        raise UnsafeValueError(f"field '{found[0]}': {found[1]}" if found else "text holds a lone surrogate")
    return text


def _safe_leaf(item: Any) -> Any:
    if isinstance(item, float) and not math.isfinite(item):
        return _spell(item)
    if isinstance(item, str) and _SURROGATE.search(item):
        return item.encode("utf-8", "backslashreplace").decode("utf-8")  # "\ud800" stays visible as text
    if not isinstance(item, (str, int, float, bool, type(None))):
        return str(item)
    return item


def evidence(value: Any) -> Any:
    """`value` with non-finite numbers as the strings "NaN"/"Infinity", lone surrogates escaped and other non-JSON
    values as their text: writable as-is."""
    if problem(value) is None:
        return value
    root: list = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, dict):
            parent[key] = copy = {}
            for k, v in item.items():
                safe_key = _safe_leaf(k)
                copy[safe_key] = None
                stack.append((v, copy, safe_key))
        elif isinstance(item, (list, tuple)):
            parent[key] = copy = [None] * len(item)
            stack.extend((v, copy, i) for i, v in enumerate(item))
        else:
            parent[key] = _safe_leaf(item)
    return root[0]
