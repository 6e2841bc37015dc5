"""Convert public data formats to chatrecipe's conversation and preference records, detecting the format.

Run as: `chatrecipe data convert hh.jsonl.gz -o pairs.jsonl [--format hh-rlhf]`.

Formats: one module each in `chatrecipe.data.formats` (chatrecipe/OpenAI/TRL records, H4, TRL prompt-completion
and unpaired rows, Alpaca, ShareGPT, Capybara, HH-RLHF, Nectar, UltraFeedback, HelpSteer2, SHP,
summarize-from-feedback, Chatbot Arena, OpenAssistant rows and trees); a format whose records span rows has
`convert_all(rows)`. The format is the first that most of the first rows fit, and the result says which and
why; a row that fits another format is converted as that one (a file that mixes formats loses nothing, and the
result says which lines are in which format); a row that fits none, or fails, is rejected with file, line and
reason, and the valid rows go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatrecipe.data.formats import BY_NAME, FORMATS
from chatrecipe.data.records import RecordFileError, Row, iter_rows, rejection
from chatrecipe.data.schema import RecordError

SNIFF_ROWS = 20
MAX_RANGES = 8  # line ranges listed per format in a mixed file's reason


@dataclass
class ConvertResult:
    records: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    kind: str | None = None
    format: str | None = None  # the one format every converted row had, or "mixed"
    formats: dict[str, int] = field(default_factory=dict)  # rows converted per format
    reasons: list[str] = field(default_factory=list)  # per file: which format, and why

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def _first_fit(row: dict):
    return next((module for module in FORMATS if module.fits(row) is None), None)


def detect_format(rows: list[dict], path: str) -> tuple[object | None, str]:
    """(format most sampled rows fit, why); (None, why) when the rows fit several formats but none has most."""
    misses = {}
    for module in FORMATS:
        misses[module.NAME] = [module.fits(r) for r in rows]
        hits = sum(m is None for m in misses[module.NAME])
        if hits > len(rows) / 2:
            signature = getattr(module, "SIGNATURE", f"{module.NAME}'s fields")
            return module, f"{path}: {module.NAME}, since {hits} of {len(rows)} sampled rows have {signature}"
    fitting = [_first_fit(r) for r in rows]
    if sum(m is not None for m in fitting) > len(rows) / 2:
        return None, f"{path}: no format fits most sampled rows, so each row is read in the format it fits"
    tried = "; ".join(f"{name}: {next(m for m in found if m)}" for name, found in misses.items())
    raise RecordFileError(f"{path}: unknown data format. Tried {tried}. Pass --format to choose one.")


def _ranges(lines: list[int]) -> str:
    spans, start, last = [], None, None
    for line in sorted(lines):
        if start is None:
            start = last = line
        elif line == last + 1:
            last = line
        else:
            spans.append((start, last))
            start = last = line
    if start is not None:
        spans.append((start, last))
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:MAX_RANGES])
    return text + (f", ... ({len(spans) - MAX_RANGES} more ranges)" if len(spans) > MAX_RANGES else "")


def _options_for(module, options: dict) -> dict:
    return {k: v for k, v in options.items() if k in getattr(module, "OPTIONS", {})}


def _check_options(options: dict, fmt: str | None) -> None:
    known = {name: module for module in FORMATS for name in getattr(module, "OPTIONS", {})}
    for name in options:
        if name not in known or (fmt and name not in getattr(BY_NAME[fmt], "OPTIONS", {})):
            takes = {n: sorted(getattr(m, "OPTIONS", {})) for n, m in BY_NAME.items() if getattr(m, "OPTIONS", {})}
            listed = "; ".join(f"{n}: {', '.join(o)}" for n, o in takes.items())
            raise RecordFileError(f"unknown option {name!r}{f' for --format {fmt}' if fmt else ''}; options by "
                                  f"format: {listed}")


def _convert_row(module, row: Row, options: dict, result: ConvertResult) -> None:
    try:
        result.records += module.convert(row.data, **_options_for(module, options))
    except RecordError as exc:
        result.rejected.append(rejection(row, exc.reason, exc.field))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        result.rejected.append(rejection(row, f"malformed {module.NAME} row: {type(exc).__name__}: {exc}"))


def _route(data: dict, module, forced: bool):
    """(format module, None) for a row: the file's format if it fits, else (unless forced) the first that does;
    (None, why) when none may take it."""
    if module is not None and module.fits(data) is None:
        return module, None
    if not forced:
        other = _first_fit(data)
        if other is not None:
            return other, None
    if module is None:
        return None, f"fits no known format ({', '.join(BY_NAME)})"
    return None, f"does not fit {module.NAME}: {module.fits(data)}"


def _convert_file(path, fmt: str | None, options: dict, result: ConvertResult, rows=None) -> None:
    rows = iter_rows(path) if rows is None else iter(rows)
    buffered: list[Row] = []
    module = BY_NAME.get(fmt) if fmt else None
    for row in rows:
        buffered.append(row)
        if module is None and sum(r.data is not None for r in buffered) >= SNIFF_ROWS:
            break
    if module is None:
        sample = [r.data for r in buffered if r.data is not None]
        if not sample:
            result.rejected += [rejection(r, r.error or "empty row") for r in buffered]
            result.reasons.append(f"{path}: no readable rows")
            return
        module, why = detect_format(sample, str(path))
    else:
        why = f"{path}: {module.NAME}, as --format says"
    by_format: dict[str, list[Row]] = {}
    for row in [*buffered, *rows]:
        target, refused = (None, row.error) if row.error else _route(row.data, module, forced=fmt is not None)
        if target is None:
            result.rejected.append(rejection(row, refused))
        else:
            by_format.setdefault(target.NAME, []).append(row)
    for name, group in by_format.items():
        target = BY_NAME[name]
        if hasattr(target, "convert_all"):  # records that span rows (message trees, unpaired completions)
            try:
                records, rejected = target.convert_all(group, **_options_for(target, options))
            except RecordError as exc:  # a format's own check missed a row: its rows are refused, the file goes on
                records = []
                rejected = [rejection(r, f"{name}: {exc.reason}; the rows read with it are kept here", exc.field)
                            for r in group]
            result.records += records
            result.rejected += rejected
        else:
            for row in group:
                _convert_row(target, row, options, result)
        result.formats[name] = result.formats.get(name, 0) + len(group)
    if len(by_format) > 1 or (module is None and by_format):
        why += "; lines by format: " + "; ".join(f"{name} {_ranges([r.line for r in group])}"
                                                   for name, group in by_format.items())
    result.reasons.append(why)


def convert(paths, fmt: str | None = None, options: dict | None = None, *, rows=None) -> ConvertResult:
    """Read, detect (or use `fmt`), convert and validate; never drops a row silently.

    `options` go to the formats that take them (e.g. {"attribute": "correctness"} for HelpSteer2 pairs). `rows`:
    the rows of one path that its caller has begun reading (already read ones first), so the file, a JSON array
    or a Hub dataset, is not read twice."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if rows is not None and len(paths) != 1:
        raise ValueError("rows= are the rows of one path")
    if fmt is not None and fmt not in BY_NAME:
        raise RecordFileError(f"unknown --format {fmt!r}; use one of {', '.join(BY_NAME)}")
    options = dict(options or {})
    _check_options(options, fmt)
    result = ConvertResult()
    for path in paths:
        _convert_file(path, fmt, options, result, rows)
    result.format = next(iter(result.formats)) if len(result.formats) == 1 else ("mixed" if result.formats else fmt)
    kinds = {"conversation" if "messages" in r else "preference" for r in result.records}
    result.kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
    return result
