"""A rerun after a crash mends the appended output's tail: the cut last line goes, a whole one gets its newline,
and any other bad line is still an error (a crash cuts only the end)."""

from __future__ import annotations

import json

import pytest

from chatrecipe.data import resumable
from chatrecipe.data.records import RecordFileError
from chatrecipe.data.resumable import append_jsonl, read_appended

ROWS = [{"question_id": i, "text": "é" * 50 + str(i)} for i in range(3)]


def _appended(path):
    for row in ROWS:
        append_jsonl(path, row)
    return path.read_bytes()


@pytest.mark.parametrize("cut", [1, 7, 52, -1])  # in a key, in the value, inside a two-byte character, before "}"
def test_a_cut_last_line_is_removed_and_the_next_append_starts_a_line(tmp_path, capsys, cut):
    path = tmp_path / "out.jsonl"
    whole = _appended(path)
    last = whole.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(whole[:last + cut] if cut > 0 else whole.rstrip(b"\n")[:cut])
    assert read_appended(path) == ROWS[:2]
    assert "removed a half-written last line" in capsys.readouterr().err
    append_jsonl(path, ROWS[2])
    assert read_appended(path) == ROWS  # redone on a line of its own, not glued to the cut one


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path, capsys):
    path = tmp_path / "out.jsonl"
    path.write_bytes(_appended(path).rstrip(b"\n"))
    assert read_appended(path) == ROWS and path.read_bytes().endswith(b"\n")
    assert capsys.readouterr().err == ""


def test_a_file_that_is_only_a_cut_line_is_emptied(tmp_path, monkeypatch):
    monkeypatch.setattr(resumable, "TAIL_CHUNK", 8)  # the backwards search crosses several chunks
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps(ROWS[0])[:-3])
    assert read_appended(path) == [] and path.read_bytes() == b""
    assert read_appended(tmp_path / "absent.jsonl") == []


def test_a_bad_line_before_the_end_is_still_an_error(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{not json\n" + json.dumps(ROWS[1]) + "\n")
    with pytest.raises(RecordFileError, match="out.jsonl:2"):
        read_appended(path)
