"""Records: validation names the field; readers keep every bad line with file, line and reason."""

from __future__ import annotations

import gzip
import json

import pytest

from chatrecipe.data.records import load_records, rejected_path, write_records, write_rejected
from chatrecipe.data.schema import RecordError, detect_kind, validate_conversation, validate_preference

GOOD = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}


def test_conversation_gets_id_and_default_category():
    record = validate_conversation(GOOD)
    assert record["category"] == "other" and len(record["id"]) == 16
    assert validate_conversation(GOOD)["id"] == record["id"]  # stable content id


@pytest.mark.parametrize("messages, field", [
    ([{"role": "user", "content": "Hi"}], "messages[0].role"),  # does not end with assistant
    ([{"role": "user", "content": "Hi"}, {"role": "bot", "content": "x"}], "messages[1].role"),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  "}], "messages[1].content"),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant"}], "messages[1].content"),
    ([{"role": "assistant", "content": "x"}], "messages"),  # no user turn
])
def test_conversation_errors_name_the_field(messages, field):
    with pytest.raises(RecordError) as info:
        validate_conversation({"messages": messages})
    assert info.value.field == field


def test_preference_rejects_identical_and_accepts_strings():
    pair = {"prompt": "Q?", "chosen": "A", "rejected": "B", "margin": 2, "scale": "llama2-4"}
    record = validate_preference(pair)
    assert record["prompt"] == [{"role": "user", "content": "Q?"}]
    assert record["chosen"] == [{"role": "assistant", "content": "A"}]
    with pytest.raises(RecordError) as info:
        validate_preference({**pair, "rejected": "A"})
    assert info.value.field == "rejected"
    with pytest.raises(RecordError) as info:
        validate_preference({**pair, "margin": -1})
    assert info.value.field == "margin"


def test_preference_completions_may_span_turns_but_start_and_end_with_the_assistant():
    turns = [{"role": "assistant", "content": "Sure, what about?"}, {"role": "user", "content": "Fractions."},
             {"role": "assistant", "content": "A fraction is a part of a whole."}]
    record = validate_preference({"prompt": "Help with homework?", "chosen": turns, "rejected": "No."})
    assert [m["role"] for m in record["chosen"]] == ["assistant", "user", "assistant"]
    for bad, field in [(turns[1:], "chosen[0].role"), (turns[:2], "chosen[1].role"),
                       ([{"role": "system", "content": "x"}] + turns, "chosen[0].role")]:
        with pytest.raises(RecordError) as info:
            validate_preference({"prompt": "Help with homework?", "chosen": bad, "rejected": "No."})
        assert info.value.field == field


def test_detect_kind():
    assert detect_kind(GOOD) == "conversation"
    assert detect_kind({"prompt": "a", "chosen": "b", "rejected": "c"}) == "preference"
    assert detect_kind({"question_id": 1, "turns": ["q"]}) == "question"
    assert detect_kind({"model_a": "x", "model_b": "y", "winner": "tie"}) == "battle"
    assert detect_kind({"foo": 1}) is None


def test_bad_lines_are_reported_by_line_and_valid_ones_kept(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps(GOOD),
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": "Hi"}]}),
        json.dumps({**GOOD, "category": "poetry"}),
        json.dumps(GOOD | {"id": "x2"}),
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"messages": "\xff\xfe"}\n')
    result = load_records(path, "conversation")
    assert [r["id"] for r in result.records][1] == "x2" and len(result.records) == 2
    by_line = {r["line"]: r for r in result.rejected}
    assert sorted(by_line) == [2, 3, 4, 6]
    assert "malformed JSON" in by_line[2]["reason"]
    assert by_line[3]["field"] == "messages[0].role"
    assert by_line[4]["field"] == "category"
    assert "not UTF-8" in by_line[6]["reason"]
    assert all(r["file"] == str(path) for r in result.rejected)
    out = tmp_path / "clean.jsonl"
    write_records(out, result.records)
    written = write_rejected(out, result.rejected)
    assert written == rejected_path(out) == tmp_path / "clean.rejected.jsonl"
    assert len(written.read_text().splitlines()) == 4


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".parquet", ".json", ".csv"])
def test_round_trip_formats(tmp_path, suffix):
    records = [validate_conversation(GOOD | {"id": str(i)}) for i in range(3)]
    path = tmp_path / f"data{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(records))
    elif suffix == ".csv":
        import csv

        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "messages", "category"])
            writer.writeheader()
            for r in records:
                writer.writerow({"id": r["id"], "messages": json.dumps(r["messages"]), "category": r["category"]})
    else:
        write_records(path, records)
    loaded = load_records(path, "conversation")
    assert not loaded.rejected
    assert [r["messages"] for r in loaded.records] == [r["messages"] for r in records]
    if suffix.endswith(".gz"):
        assert gzip.open(path).read(1) == b"{"


def test_datasets_folder(tmp_path):
    import datasets

    rows = [validate_conversation(GOOD | {"id": str(i)}) for i in range(3)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    assert len(load_records(tmp_path / "ds", "conversation").records) == 3


def test_one_split_of_a_datasets_folder(tmp_path):
    # ultrafeedback_binarized saved with save_to_disk holds train_prefs and test_prefs: the folder alone reads
    # both (rows named folder[split]); folder[split], as the Hub ids take it, reads one (before: "no such file")
    import datasets

    from chatrecipe.data.records import RecordFileError

    rows = [validate_conversation(GOOD | {"id": str(i)}) for i in range(3)]
    datasets.DatasetDict({"train_prefs": datasets.Dataset.from_list(rows[:2]),
                          "test_prefs": datasets.Dataset.from_list(rows[2:])}).save_to_disk(str(tmp_path / "ufb"))
    both = load_records(tmp_path / "ufb", "conversation").records
    test = load_records(f"{tmp_path / 'ufb'}[test_prefs]", "conversation").records
    assert len(both) == 3 and [r["id"] for r in test] == ["2"]
    with pytest.raises(RecordFileError, match="no split 'test_sft'; its splits: train_prefs, test_prefs"):
        load_records(f"{tmp_path / 'ufb'}[test_sft]", "conversation")
