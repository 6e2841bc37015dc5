"""Hostile files lose no valid row: non-finite numbers, lone surrogates, absurd nesting and huge integers are
rejected rows with a reason; a truncated .gz keeps what came before the break and says where; a corrupt
Parquet file is one clear error naming it; and nothing chatrecipe writes holds NaN or Infinity."""

from __future__ import annotations

import gzip
import json

import pytest

from chatrecipe.data.convert import convert
from chatrecipe.data.records import RecordFileError, load_records, read_jsonl, write_records, write_rejected
from chatrecipe.data.resumable import append_jsonl

PAIR = {"prompt": "Q?", "chosen": "A", "rejected": "B", "margin": 1.0}
ROW = {"instruction": "Say hi.", "output": "Hi!"}


def strict_lines(path):
    """Every line parsed by a reader that refuses NaN and Infinity, as JSON itself does."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return [json.loads(line, parse_constant=refuse) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_non_finite_margins_are_rejected_rows_and_never_written(tmp_path, token):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(PAIR) + "\n" + json.dumps(PAIR | {"chosen": "C"}).replace('"margin": 1.0',
                                                                                          f'"margin": {token}') + "\n")
    result = load_records(path, "preference")
    assert len(result.records) == 1 and len(result.rejected) == 1
    assert result.rejected[0]["field"] == "margin" and result.rejected[0]["line"] == 2
    assert "finite" in result.rejected[0]["reason"]
    out = tmp_path / "clean.jsonl"
    write_records(out, result.records)
    rejected_file = write_rejected(out, result.rejected)
    assert len(strict_lines(out)) == 1
    kept = strict_lines(rejected_file)[0]["record"]
    assert kept["margin"] in ("NaN", "Infinity", "-Infinity")  # the evidence stays, spelled as text


def test_non_finite_anywhere_in_a_record_is_rejected_with_its_field(tmp_path):
    path = tmp_path / "mixed.jsonl"
    conversation = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]}
    judgment = {"kind": "single", "question_id": 1, "judge": "j", "model": "m", "score": 5}
    path.write_text("\n".join([json.dumps(conversation | {"weight": 1.0}),
                               json.dumps(conversation | {"weight": 1.0}).replace("1.0", "NaN"),
                               json.dumps(judgment), json.dumps(judgment).replace("5", "Infinity"),
                               json.dumps(PAIR | {"rating": 7}).replace("7", "1e999")]) + "\n")
    result = load_records(path)
    assert len(result.records) == 2
    assert sorted((r["line"], r["field"]) for r in result.rejected) == [(2, "weight"), (4, "score"), (5, "rating")]
    # a NaN in a field no converter reads costs nothing: the row converts, the NaN stays behind
    alpaca = tmp_path / "alpaca.jsonl"
    alpaca.write_text(json.dumps(ROW | {"quality": 1.0}).replace("1.0", "NaN") + "\n")
    assert len(convert(alpaca).records) == 1


def test_writers_refuse_nan_instead_of_writing_it(tmp_path):
    with pytest.raises(RecordFileError, match="record 2 cannot be written.*'margin'.*NaN"):
        write_records(tmp_path / "out.jsonl", [PAIR, PAIR | {"margin": float("nan")}])
    assert not (tmp_path / "out.jsonl").exists() and not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ValueError, match="'scores\\[1\\]'.*Infinity"):
        append_jsonl(tmp_path / "log.jsonl", {"scores": [1.0, float("inf")]})
    assert not (tmp_path / "log.jsonl").exists()


def test_parquet_infinity_is_rejected_not_turned_into_null(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([PAIR, PAIR | {"chosen": "C", "margin": float("inf")},
                                         PAIR | {"chosen": "D", "margin": float("nan")}]), tmp_path / "p.parquet")
    result = convert(tmp_path / "p.parquet")
    assert len(result.records) == 1 and [r["field"] for r in result.rejected] == ["margin", "margin"]


def test_lone_surrogate_is_a_rejected_row_not_a_writer_crash(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + '{"instruction": "Say \\ud800.", "output": "ok"}\n'
                    + '{"instruction": "Emoji \\ud83d\\ude00 is fine.", "output": "ok"}\n')
    result = convert(path)
    assert len(result.records) == 2 and result.records[1]["messages"][0]["content"] == "Emoji \U0001F600 is fine."
    assert result.rejected[0]["line"] == 2 and result.rejected[0]["field"] == "messages[0].content"
    assert "lone surrogate" in result.rejected[0]["reason"]
    out = tmp_path / "out.jsonl"
    write_records(out, result.records)
    rejected_file = write_rejected(out, result.rejected)
    assert strict_lines(rejected_file)[0]["record"]["instruction"] == "Say \\ud800."  # escaped, still readable


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_deeply_nested_line_is_a_rejected_row(tmp_path, suffix):
    deep = '{"instruction": ' + "[" * 100_000 + "]" * 100_000 + ', "output": "x"}'
    path = tmp_path / f"deep{suffix}"
    path.write_text(json.dumps(ROW) + "\n" + deep + "\n" + json.dumps(ROW | {"output": "Hello!"}) + "\n")
    result = convert(path)
    assert len(result.records) == 2
    assert result.rejected[0]["line"] == 2 and "nested deeper" in result.rejected[0]["reason"]
    whole = tmp_path / "deep-array.json"  # a JSON array file that is one deep value: an error row, not a traceback
    whole.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested deeper" in load_records(whole).rejected[0]["reason"]


def test_huge_integer_is_a_rejected_row(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(PAIR) + "\n" + json.dumps(PAIR).replace("1.0", "9" * 5000) + "\n"
                    + json.dumps(PAIR).replace("1.0", "9" * 400) + "\n")
    result = load_records(path, "preference")
    assert len(result.records) == 1
    assert "unreadable JSON" in result.rejected[0]["reason"]  # past Python's 4300-digit limit
    assert result.rejected[1]["field"] == "margin"  # parsed, but no float holds it


def test_truncated_gzip_keeps_the_rows_before_the_break(tmp_path):
    rows = [ROW | {"output": f"Hi number {i}!" + " padding" * 20} for i in range(3000)]
    blob = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])
    result = convert(path)
    assert 500 < len(result.records) < 3000
    end = result.rejected[-1]
    assert "breaks after line" in end["reason"] and "rows before it are kept" in end["reason"]
    assert end["line"] == len(result.records) + len(result.rejected)  # the line where it broke, after all it kept
    not_gzip = tmp_path / "plain.jsonl.gz"
    not_gzip.write_text(json.dumps(ROW) + "\n")
    assert "cannot be decompressed" in load_records(not_gzip).rejected[0]["reason"]
    json_gz = not_gzip.rename(tmp_path / "p.json.gz")
    assert "cannot be decompressed" in load_records(json_gz).rejected[0]["reason"]


def test_cli_convert_of_a_truncated_gzip_writes_what_it_kept(tmp_path):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    blob = gzip.compress("".join(json.dumps(ROW | {"output": f"Hi {i} " * 40}) + "\n" for i in range(2000)).encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(blob[:-200])
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["data", "convert", str(tmp_path / "cut.jsonl.gz"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) > 1900 and "breaks after line" in (tmp_path / "out.rejected.jsonl").read_text()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_parquet_is_one_clear_error_naming_the_file(tmp_path, damage):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([PAIR] * 50), path)
    data = path.read_bytes()
    path.write_bytes(b"not parquet at all" if damage == "garbage" else data[: len(data) // 2])
    for read in (convert, load_records):
        with pytest.raises(RecordFileError) as info:
            read(path)
        assert str(info.value).startswith(f"{path}: not a readable Parquet file")


def test_forced_format_rejects_rows_of_another_format_saying_so(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + json.dumps({"conversations": [{"from": "human", "value": "Hi"},
                                                                            {"from": "gpt", "value": "Hey"}]}) + "\n")
    result = convert(path, "alpaca")
    assert len(result.records) == 1 and result.rejected[0]["reason"].startswith("does not fit alpaca: no `instruction`")
    assert len(convert(path).records) == 2  # detected per row


def test_a_bad_score_in_a_row_group_format_is_a_rejected_pair_not_a_crash(tmp_path):
    """HelpSteer2 pairs rows by prompt: an Infinity score or a lone surrogate in one response rejects the rows it
    touches, with the reason; the file's other pairs are kept."""
    rows = [{"prompt": "Name a colour.", "response": text, "helpfulness": score, "correctness": 3, "coherence": 3,
             "complexity": 1, "verbosity": 1} for text, score in (("Blue.", 4), ("Red, I think.", 2))]
    rows += [{"prompt": "Say hi.", "response": "Hi!", "helpfulness": "Infinity-marker"},
             {"prompt": "Say hi.", "response": "Hello there.", "helpfulness": 1}]
    rows += [{"prompt": "Spell cat.", "response": "C-A-T", "helpfulness": 4},
             {"prompt": "Spell cat.", "response": "D\ud800G", "helpfulness": 1}]
    path = tmp_path / "helpsteer2.jsonl"
    text = "".join(json.dumps(r) + "\n" for r in rows).replace('"Infinity-marker"', "Infinity")
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = convert([path], "helpsteer2")
    assert len(result.records) == 1 and result.records[0]["chosen"][0]["content"] == "Blue."
    reasons = " | ".join(r["reason"] for r in result.rejected)
    assert "finite" in reasons and "surrogate" in reasons
    assert len(result.rejected) == 4  # the Infinity row (and so its lonely sibling), and the surrogate's pair


def test_a_prompt_to_classify_with_a_lone_surrogate_is_a_rejected_row(tmp_path):
    from chatrecipe.data.requests import load_requests

    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"id": "a", "messages": [{"role": "user", "content": "Write a poem\ud800"}]}) + "\n"
                    + json.dumps({"id": "b", "messages": [{"role": "user", "content": "Sort 3, 1, 2."}]}) + "\n")
    result = load_requests(path)
    assert [r["id"] for r in result.records] == ["b"]
    assert len(result.rejected) == 1 and "surrogate" in result.rejected[0]["reason"]


def test_a_byte_order_mark_at_the_start_of_a_file_loses_no_row(tmp_path):
    """Before: a UTF-8 BOM (Excel's "CSV UTF-8", Notepad, PowerShell) rejected every CSV row (the first column was
    named "\\ufeffprompt"), the first JSON Lines row and a whole JSON file ("Unexpected UTF-8 BOM"). Readers such
    as pandas and datasets skip it; so do we. A BOM anywhere else is text and stays."""
    rows = [PAIR, {**PAIR, "prompt": "Q2?"}]
    bom = "\ufeff"
    (tmp_path / "a.jsonl").write_text(bom + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "b.json").write_text(bom + json.dumps(rows), encoding="utf-8")
    (tmp_path / "c.json").write_text(bom + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "d.csv").write_text(bom + "prompt,chosen,rejected\nQ?,A,B\nQ2?,A,B\n", encoding="utf-8")
    with gzip.open(tmp_path / "e.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(bom + "".join(json.dumps(r) + "\n" for r in rows))
    for name in ("a.jsonl", "b.json", "c.json", "d.csv", "e.jsonl.gz"):
        loaded = load_records(tmp_path / name, "preference")
        assert loaded.rejected == [], (name, loaded.rejected)
        assert [r["prompt"][0]["content"] if isinstance(r["prompt"], list) else r["prompt"]
                for r in loaded.records] == ["Q?", "Q2?"], name
    (tmp_path / "f.jsonl").write_text(json.dumps(PAIR) + "\n" + bom + json.dumps(PAIR) + "\n", encoding="utf-8")
    assert len(load_records(tmp_path / "f.jsonl", "preference").rejected) == 1  # not at the start: not skipped
