"""Converters: one fixture per public format (written for chatrecipe in that exact shape), auto-detection,
rejections with reasons, and a property test that random or truncated rows never crash or lose a valid row."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatrecipe.data.convert import convert
from chatrecipe.data.formats import FORMATS
from chatrecipe.data.records import RecordFileError

FIXTURES = {
    "alpaca": [{"instruction": "Give a synonym for happy.", "input": "", "output": "Joyful."},
               {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour."}],
    "sharegpt": [{"id": "s1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"},
                                                {"from": "human", "value": "Bye"}, {"from": "gpt", "value": "Bye!"}]}],
    "hh-rlhf": [{"chosen": "\n\nHuman: How do I boil an egg?\n\nAssistant: Simmer it for 8 minutes.",
                 "rejected": "\n\nHuman: How do I boil an egg?\n\nAssistant: Eggs are food."}],
    "ultrafeedback": [{"instruction": "Name a prime.", "completions": [
        {"response": "7 is prime.", "overall_score": 9}, {"response": "8", "overall_score": 2},
        {"response": "Prime numbers exist.", "overall_score": 5}]}],
    "shp": [{"post_id": "p1", "domain": "askscience", "history": "Why is the sea salty?",
             "human_ref_A": "Rivers carry dissolved minerals into it.", "human_ref_B": "Because of fish.",
             "labels": 1, "score_ratio": 4.0}],
    "summarize": [{"info": {"post": "I moved to a new city and miss my friends.", "title": "Lonely"},
                   "summaries": [{"text": "Moved, misses friends."}, {"text": "Likes cities."}], "choice": 0}],
    "arena": [{"question_id": "q1", "model_a": "x", "model_b": "y", "winner": "model_b",
               "conversation_a": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}],
               "conversation_b": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}],
    "messages": [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]}],
    "h4": [{"prompt": "Hi", "prompt_id": "p1", "messages": [{"role": "user", "content": "Hi"},
                                                         {"role": "assistant", "content": "Hello!"}]},
           {"prompt": "2+2?", "prompt_id": "p2", "score_chosen": 8.0, "score_rejected": 2.0,
            "chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
            "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]}],
    "implicit-prompt": [{"chosen": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Blue."}],
                         "rejected": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Green."}]}],
    "prompt-completion": [{"prompt": "The sky is", "completion": " blue."},
                          {"prompt": [{"role": "user", "content": "Sky?"}],
                           "completion": [{"role": "assistant", "content": "Blue."}]}],
    "capybara": [{"source": "Airoboros", "conversation": [{"input": "Hi", "output": "Hello!"},
                                                          {"input": "Bye", "output": "Goodbye!"}]}],
    "nectar": [{"prompt": "\n\nHuman: Tip for sleep?\n\nAssistant:", "good_natured": True, "answers": [
        {"answer": "Keep a schedule.", "model": "gpt-4", "rank": 1.0}, {"answer": "Coffee.", "model": "x", "rank": 2.0},
        {"answer": "No.", "model": "y", "rank": 3.0}]}],
}


def write(tmp_path, name, rows, suffix=".jsonl"):
    path = tmp_path / f"{name}{suffix}"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_format_is_detected_and_converted(tmp_path, name):
    result = convert(write(tmp_path, name, FIXTURES[name]))
    assert result.format == name and result.rejected == [] and result.records


def test_format_specifics(tmp_path):
    hh = convert(write(tmp_path, "hh", FIXTURES["hh-rlhf"])).records[0]
    assert hh["prompt"] == [{"role": "user", "content": "How do I boil an egg?"}]
    assert hh["chosen"][0]["content"] == "Simmer it for 8 minutes."
    uf = convert(write(tmp_path, "uf", FIXTURES["ultrafeedback"])).records[0]
    assert (uf["chosen"][0]["content"], uf["rejected"][0]["content"], uf["margin"]) == ("7 is prime.", "8", 7.0)
    arena = convert(write(tmp_path, "ar", FIXTURES["arena"])).records[0]
    assert arena["chosen"][0]["content"] == "4"
    sharegpt = convert(write(tmp_path, "sg", FIXTURES["sharegpt"])).records[0]
    assert [m["role"] for m in sharegpt["messages"]] == ["user", "assistant", "user", "assistant"]
    summ = convert(write(tmp_path, "su", FIXTURES["summarize"])).records[0]
    assert summ["category"] == "summarization" and summ["chosen"][0]["content"] == "Moved, misses friends."


def test_bad_rows_rejected_with_reasons_valid_rows_kept(tmp_path):
    rows = FIXTURES["alpaca"] + [{"instruction": "", "output": "x"}, {"instruction": "Q", "output": ""}]
    path = write(tmp_path, "a", rows)
    path.write_text(path.read_text() + "{broken\n")
    result = convert(path)
    assert len(result.records) == 2 and len(result.rejected) == 3
    assert {r["line"] for r in result.rejected} == {3, 4, 5}
    assert any("malformed JSON" in r["reason"] for r in result.rejected)


def test_unknown_format_says_what_was_tried(tmp_path):
    with pytest.raises(RecordFileError) as info:
        convert(write(tmp_path, "x", [{"foo": 1}, {"bar": 2}]))
    for module in FORMATS:
        assert module.NAME in str(info.value)


def test_gzip_and_parquet_inputs(tmp_path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    gz = tmp_path / "a.jsonl.gz"
    with gzip.open(gz, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in FIXTURES["alpaca"])
    assert len(convert(gz).records) == 2
    parquet = tmp_path / "shp.parquet"
    pq.write_table(pa.Table.from_pylist(FIXTURES["shp"]), parquet)
    assert convert(parquet).format == "shp"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(FIXTURES)), junk=st.lists(st.dictionaries(st.text(max_size=12), json_values,
                                                                                max_size=4), max_size=4),
       cut=st.integers(min_value=1, max_value=60))
def test_random_and_truncated_rows_never_crash_or_lose_valid_rows(tmp_path, name, junk, cut):
    valid = FIXTURES[name] * 3
    truncated = json.dumps(valid[0])[:cut]
    lines = [json.dumps(r) for r in valid] + [json.dumps(j) for j in junk] + [truncated]
    path = tmp_path / f"prop-{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = convert(path, name)
    expected = len(convert(write(tmp_path, f"ok-{name}", valid), name).records)
    assert len(result.records) >= expected  # every valid row survives (junk may happen to be valid too)
    if name != "arena":  # an Arena tie is a battle, not a pair: the one row that may yield no record
        assert len(result.records) + len(result.rejected) >= len(lines)  # every row is a record or a rejection


@pytest.mark.parametrize("content, says", [(b"", "the file is empty"), (b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00" * 40,
                                                                          "is not UTF-8")])
def test_empty_and_binary_files_say_what_they_are_and_what_was_expected(tmp_path, content, says):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    path = tmp_path / "input.jsonl"
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["data", "convert", str(path), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert "format: None" not in result.output
    assert says in result.output and "Expected JSON Lines" in result.output
