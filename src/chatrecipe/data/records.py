"""Read and write record files (JSON Lines, JSON, Parquet, CSV, gzip'd, `datasets` folders) without losing a row.

Every row read carries its file and line, so a validation failure can say exactly where it is. `load_records`
validates as it reads and returns the valid records and the rejected ones (with reasons); `write_rejected`
puts the latter beside the output as `<output>.rejected.jsonl`.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from chatrecipe.data.eval_formats import to_native
from chatrecipe.data.hub import HubDatasetError, load_hub_splits, looks_like_hub_id
from chatrecipe.data.schema import VALIDATORS, RecordError, detect_kind
from chatrecipe.data.strict_json import UnsafeValueError, dumps, evidence

SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


class RecordFileError(ValueError):
    """A file that cannot be read at all (missing, unknown format); the message says what to do."""


@dataclass
class Row:
    """One raw row and where it came from; `error` is set when the row could not even be parsed."""

    file: str
    line: int
    data: dict | None
    error: str | None = None
    text: str | None = None


@dataclass
class LoadResult:
    records: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    @property
    def counts(self) -> dict:
        return {"valid": len(self.records), "rejected": len(self.rejected)}


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    # strict decoding: a line that is not UTF-8 is reported (below), never silently mangled; utf-8-sig skips the
    # byte order mark that Excel, Notepad and PowerShell put first (pandas and datasets skip it too)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")


def _parse_line(name: str, number: int, line: str) -> Row:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return Row(name, number, None, f"malformed JSON: {exc.msg} at column {exc.colno}", line.rstrip("\n"))
    except RecursionError:
        return Row(name, number, None, "nested deeper than a JSON reader can follow; a record is a few levels deep, "
                                       "so this line is not one", line.rstrip("\n")[:10_000])
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        return Row(name, number, None, f"unreadable JSON: {exc}", line.rstrip("\n")[:10_000])
    if not isinstance(data, dict):
        return Row(name, number, None, f"expected a JSON object, got {type(data).__name__}", line.rstrip("\n"))
    return Row(name, number, data)


# what a damaged compressed file raises part-way through: the rows before it are kept, the end is reported
_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _stream_end(name: str, number: int, exc: Exception, read: int) -> Row:
    if number <= 1:
        return Row(name, number, None, f"cannot be decompressed ({exc}); check that it is a complete gzip file", "")
    return Row(name, number, None, f"the compressed stream breaks after line {number - 1} ({read:,} bytes "
                                   f"decompressed): {exc}; the rows before it are kept; re-download or re-compress "
                                   "the file for the rest", "")


def _iter_jsonl(path: Path) -> Iterator[Row]:
    name = str(path)
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    number, read = 0, 0
    with raw:
        lines = iter(raw)
        while True:
            try:
                blob = next(lines)
            except StopIteration:
                return
            except _STREAM_ERRORS as exc:
                yield _stream_end(name, number + 1, exc, read)
                return
            number += 1
            read += len(blob)
            try:
                line = blob.decode("utf-8-sig" if number == 1 else "utf-8")  # a byte order mark first: skipped
            except UnicodeDecodeError as exc:
                yield Row(name, number, None, f"line is not UTF-8 ({exc.reason} at byte {exc.start}); "
                                              "re-encode the file as UTF-8", blob.decode("utf-8", "replace"))
                continue
            if line.strip():
                yield _parse_line(name, number, line)


def _iter_json(path: Path) -> Iterator[Row]:
    try:
        with _open_text(path) as handle:
            data = json.load(handle)
    except UnicodeDecodeError as exc:
        yield Row(str(path), 0, None, f"file is not UTF-8 ({exc.reason}); re-encode it as UTF-8")
        return
    except json.JSONDecodeError as exc:
        yield Row(str(path), exc.lineno, None, f"malformed JSON: {exc.msg} at column {exc.colno}")
        return
    except RecursionError:
        yield Row(str(path), 0, None, "nested deeper than a JSON reader can follow; not a file of records")
        return
    except _STREAM_ERRORS as exc:
        yield _stream_end(str(path), 1, exc, 0)
        return
    except ValueError as exc:
        yield Row(str(path), 0, None, f"unreadable JSON: {exc}")
        return
    if isinstance(data, dict):
        # {"data": [...]} and similar single-key wrappers are common in published files
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    for index, item in enumerate(data):
        if isinstance(item, dict):
            yield Row(str(path), index + 1, item)
        else:
            yield Row(str(path), index + 1, None, f"item {index} is not a JSON object", json.dumps(item)[:500])


def _iter_table(frame_rows: Iterable[dict], name: str, offset: int) -> Iterator[Row]:
    for index, item in enumerate(frame_rows):
        yield Row(name, index + offset, _to_python(item))


def _to_python(value: Any) -> Any:
    """Arrow/numpy values to plain Python, so records compare and serialise like JSON ones."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: _to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_python(v) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):  # Arrow timestamps: ISO text, as JSON files carry them
        return value.isoformat()
    return value  # a NaN stays NaN: the validators reject it with its field, rather than it turning into null


def iter_rows(path: str | Path) -> Iterator[Row]:
    """Stream the raw rows of a record file; unreadable lines come back as rows with `error` set."""
    path = Path(path)
    if not path.exists():
        folder = _SPLIT_OF_FOLDER.match(str(path))
        if folder and Path(folder["folder"]).is_dir():  # a datasets folder's split, named as rejected rows name it
            yield from _iter_dataset_folder(Path(folder["folder"]), folder["split"])
            return
        if looks_like_hub_id(str(path)):
            yield from _iter_hub_dataset(str(path))
            return
        raise RecordFileError(f"{path}: no such file or folder; check the path")
    if path.is_dir():
        yield from _iter_dataset_folder(path)
        return
    suffix = _base_suffix(path)
    if suffix == ".jsonl":
        yield from _iter_jsonl(path)
    elif suffix == ".json":
        # many ".json" files are really JSON Lines; try JSON Lines when the first line is an object on its own
        try:
            with (gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")) as handle:
                head = handle.read(4).removeprefix(b"\xef\xbb\xbf")[:1]  # past a byte order mark
        except _STREAM_ERRORS as exc:
            yield _stream_end(str(path), 1, exc, 0)
            return
        yield from (_iter_json(path) if head in (b"[", b"") else _iter_jsonl(path))
    elif suffix == ".parquet":
        yield from _iter_parquet(path)
    elif suffix == ".csv":
        yield from _iter_csv(path)
    else:
        raise RecordFileError(
            f"{path}: unknown file type {suffix or '(none)'}; use one of {', '.join(SUFFIXES)} "
            "(optionally .gz) or a datasets folder saved with save_to_disk"
        )


def _iter_parquet(path: Path) -> Iterator[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise RecordFileError(f"{path}: not a readable Parquet file ({exc}); check that it was fully written or "
                              "downloaded, or convert it again") from None
    offset = 1
    batches = parquet.iter_batches(batch_size=4096)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:  # a damaged row group: keep what came before, say where it broke
            yield Row(str(path), offset, None, f"the Parquet file breaks after row {offset - 1}: {exc}; the rows "
                                               "before it are kept; re-download or re-write the file for the rest")
            return
        rows = batch.to_pylist()
        yield from _iter_table(rows, str(path), offset)
        offset += len(rows)


def _iter_csv(path: Path) -> Iterator[Row]:
    import csv

    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        number = 1  # the header line
        while True:
            try:
                item = next(reader)
            except StopIteration:
                return
            except _STREAM_ERRORS as exc:
                yield _stream_end(str(path), number + 1, exc, 0)
                return
            except (csv.Error, UnicodeDecodeError) as exc:  # an oversized field, bad bytes: the rest cannot be trusted
                yield Row(str(path), number + 1, None, f"unreadable CSV after line {number}: {exc}; the rows before "
                                                       "it are kept")
                return
            number = reader.line_num
            yield Row(str(path), number, {k: _maybe_json(v) for k, v in item.items()})


def _maybe_json(value: str | None) -> Any:
    # CSV cells holding lists or objects (messages, turns) are JSON text
    if value and value[:1] in "[{":
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # not JSON after all: the cell stays text
            return value
    return value if value != "" else None


_SPLIT_OF_FOLDER = re.compile(r"^(?P<folder>.+)\[(?P<split>[\w.-]+)\]$")


def _iter_dataset_folder(path: Path, split: str | None = None) -> Iterator[Row]:
    """Every split of a save_to_disk folder (each row named `folder[split]`), or the one `split` asked for."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises several types for a folder it does not recognise
        raise RecordFileError(f"{path}: not a datasets folder ({exc}); save it with Dataset.save_to_disk") from exc
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    if split is not None:
        held = [name for name, _ in splits if name is not None]
        if split not in held:
            raise RecordFileError(f"{path}[{split}]: {path} has no split {split!r}; its splits: "
                                  f"{', '.join(held) or 'none (one dataset: give the folder alone)'}")
        splits = [(split, loaded[split])]
    for split, dataset in splits:
        name = f"{path}[{split}]" if split else str(path)
        yield from _iter_table(iter(dataset), name, 1)


def _iter_hub_dataset(name: str) -> Iterator[Row]:
    try:
        splits = load_hub_splits(name)
    except HubDatasetError as exc:
        raise RecordFileError(str(exc)) from None
    base = name.split("[", 1)[0]
    for split, dataset in splits:
        yield from _iter_table(iter(dataset), f"{base}[{split}]", 1)


def rejection(row: Row, reason: str, field: str | None = None) -> dict:
    """A rejected-record entry: where it was, why, and the raw content so nothing is lost."""
    return {"file": row.file, "line": row.line, "field": field, "reason": reason,
            "record": evidence(row.data) if row.data is not None else row.text}


def load_records(paths: str | Path | Iterable[str | Path], kind: str | None = None) -> LoadResult:
    """Read and validate records; `kind` is one of schema.VALIDATORS, or None to detect it per row."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if kind is not None and kind not in VALIDATORS:
        raise ValueError(f"unknown record kind {kind!r}; use one of {', '.join(VALIDATORS)}")
    result = LoadResult()
    for path in paths:
        for row in iter_rows(path):
            if row.error:
                result.rejected.append(rejection(row, row.error))
                continue
            try:  # FastChat and AlpacaEval rows become the records they hold (data/eval_formats)
                for item in to_native(row.data, kind, row.file):
                    row_kind = kind or detect_kind(item)
                    if row_kind is None:
                        result.rejected.append(rejection(row, "unrecognised record: no fields of a known record kind"))
                        continue
                    result.records.append(VALIDATORS[row_kind](item))
            except RecordError as exc:
                result.rejected.append(rejection(row, exc.reason, exc.field))
    return result


def describe_rejection(entry: dict) -> str:
    """One line for a rejected record: where, which field, and why (the reason alone does not name the field)."""
    where = f"{entry['file']}:{entry['line']}" if entry.get("line") is not None else str(entry["file"])
    field = f" field '{entry['field']}':" if entry.get("field") else ""
    return f"{where}:{field} {entry['reason']}"


def rejected_path(output: str | Path) -> Path:
    """Where the rejected records of `output` go: `<output>.rejected.jsonl` beside it."""
    output = Path(output)
    name = output.name
    for suffix in (".gz",) + SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return output.with_name(name + ".rejected.jsonl")


def write_records(path: str | Path, records: Iterable[dict]) -> int:
    """Write records as JSON Lines (or Parquet for .parquet, gzip for .gz); returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = list(records)
    if _base_suffix(path) == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # from the union of all records' fields: from_pylist takes the first record's keys and drops the others
        pq.write_table(pa.Table.from_struct_array(pa.array(records)) if records else pa.table({}), path)
        return len(records)
    tmp = path.with_name(path.name + ".tmp")
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(tmp, "wt", encoding="utf-8") as handle:
            for index, record in enumerate(records):
                handle.write(dumps(record) + "\n")  # strict JSON: never NaN, Infinity or a lone surrogate
    except UnsafeValueError as exc:
        tmp.unlink(missing_ok=True)
        raise RecordFileError(f"{path}: record {index + 1} cannot be written as JSON: {exc}; validate the records "
                              "(chatrecipe.data.schema) before writing them") from None
    tmp.replace(path)  # atomic: a reader never sees half a file, so "output exists" means "output complete"
    return len(records)


def write_rejected(output: str | Path, rejected: list[dict]) -> Path | None:
    """Write rejected records beside `output`; returns the path, or None when nothing was rejected."""
    target = rejected_path(output)
    if not rejected:
        if target.exists():
            target.unlink()
        return None
    write_records(target, rejected)
    return target


def read_jsonl(path: str | Path) -> list[dict]:
    """All rows of a trusted JSON Lines file (our own outputs); raises on the first bad line."""
    rows = []
    for row in iter_rows(path):
        if row.error:
            raise RecordFileError(f"{row.file}:{row.line}: {row.error}")
        rows.append(row.data)
    return rows
