"""Convert public data formats to chatrecipe's conversation and preference records, detecting the format.

Run as: `chatrecipe data convert hh.jsonl.gz -o pairs.jsonl [--format hh-rlhf]`.

Formats: chatrecipe/OpenAI/TRL `messages` and `prompt/chosen/rejected`, Alpaca, ShareGPT, Anthropic HH-RLHF,
UltraFeedback, Stanford SHP, OpenAI summarize-from-feedback, Chatbot Arena pairs, OpenAssistant message trees
(a format whose records span rows has `convert_all(rows)`). The format is detected from
the first rows that fit; a row that fails is rejected with file, line and reason, and the valid rows go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatrecipe.data.formats import BY_NAME, FORMATS
from chatrecipe.data.records import RecordFileError, iter_rows, rejection
from chatrecipe.data.schema import RecordError

SNIFF_ROWS = 20


@dataclass
class ConvertResult:
    records: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    kind: str | None = None
    format: str | None = None


def detect_format(rows: list[dict], path: str) -> object:
    """The first format that fits the sampled rows; otherwise an error saying why each format did not fit."""
    reasons = {}
    for module in FORMATS:
        misses = [module.fits(r) for r in rows]
        if sum(m is None for m in misses) > len(rows) / 2:
            return module
        reasons[module.NAME] = next(m for m in misses if m)
    tried = "; ".join(f"{name}: {why}" for name, why in reasons.items())
    raise RecordFileError(f"{path}: unknown data format. Tried {tried}. Pass --format to choose one.")


def convert(paths, fmt: str | None = None) -> ConvertResult:
    """Read, detect (or use `fmt`), convert and validate; never drops a row silently."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if fmt is not None and fmt not in BY_NAME:
        raise RecordFileError(f"unknown --format {fmt!r}; use one of {', '.join(BY_NAME)}")
    result = ConvertResult()
    for path in paths:
        rows = iter_rows(path)
        buffered = []
        module = BY_NAME.get(fmt) if fmt else None
        for row in rows:
            buffered.append(row)
            if module is None and sum(r.data is not None for r in buffered) >= SNIFF_ROWS:
                break
        if module is None:
            sample = [r.data for r in buffered if r.data is not None]
            if not sample:
                result.rejected += [rejection(r, r.error or "empty row") for r in buffered]
                continue
            module = detect_format(sample, str(path))
        result.format = module.NAME
        if hasattr(module, "convert_all"):  # records that span rows (message trees): the file converts as a whole
            parsed = [*buffered, *rows]
            result.rejected += [rejection(r, r.error) for r in parsed if r.error]
            records, rejected = module.convert_all([r for r in parsed if not r.error])
            result.records += records
            result.rejected += rejected
            continue
        for row in [*buffered, *rows]:
            if row.error:
                result.rejected.append(rejection(row, row.error))
                continue
            try:
                converted = module.convert(row.data)
            except RecordError as exc:
                result.rejected.append(rejection(row, exc.reason, exc.field))
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                result.rejected.append(rejection(row, f"malformed {module.NAME} row: {type(exc).__name__}: {exc}"))
            else:
                result.records += converted
    kinds = {"conversation" if "messages" in r else "preference" for r in result.records}
    result.kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
    return result
