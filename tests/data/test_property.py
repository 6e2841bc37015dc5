"""Property tests over every converter: random, mutated and truncated rows never crash a conversion, and every
input row is accounted for, either in a record or in the rejected list with a reason (no silent loss).

Accounting is checked line by line: a row-wise format converts each line on its own exactly as inside the
file, so each line alone must give a record or a rejection, and the whole file's records are the sum of
those. OpenAssistant rows are messages of a tree, so there every message id must be in some record's
metadata or its line in the rejected list.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatrecipe.data.convert import convert
from chatrecipe.data.formats import BY_NAME, FORMATS
from chatrecipe.data.records import RecordFileError, read_jsonl
from tests.data.test_convert import FIXTURES
from tests.data.test_oasst import FIXTURE as OASST_FIXTURE

ROW_FORMATS = sorted(FIXTURES)
# valid-looking rows that must not become records: each has to come back as a rejection with its reason
EDGE_ROWS = {
    "arena": [{**FIXTURES["arena"][0], "winner": "tie"}, {**FIXTURES["arena"][0], "winner": "tie (bothbad)"}],
    "ultrafeedback": [{"instruction": "Pick one.", "completions": [{"response": "a", "overall_score": 5},
                                                                   {"response": "b", "overall_score": 5}]}],
    "sharegpt": [{"conversations": [{"from": "human", "value": "Anyone there?"}]}],
    "hh-rlhf": [{"chosen": "\n\nHuman: A?\n\nAssistant: B", "rejected": "\n\nHuman: C?\n\nAssistant: D"}],
    "shp": [{**FIXTURES["shp"][0], "human_ref_B": FIXTURES["shp"][0]["human_ref_A"]}],
    "alpaca": [{"instruction": "Say nothing.", "input": "", "output": "   "}],
}
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=12)
    # values that mean something to some converter: winners, roles, labels, blank text
    | st.sampled_from(["tie", "tie (bothbad)", "model_a", "", "  ", "user", "assistant", "gpt", "prompter", 0, 1]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)


@st.composite
def mutated_row(draw, rows: list[dict]) -> str:
    """One JSONL line: a valid row, or one with a field dropped / replaced by junk, or cut short, or random."""
    row = dict(draw(st.sampled_from(rows)))
    action = draw(st.sampled_from(["keep", "drop", "junk", "nested", "truncate", "random"]))
    if action == "drop" and row:
        row.pop(draw(st.sampled_from(sorted(row))))
    elif action == "junk" and row:
        row[draw(st.sampled_from(sorted(row)))] = draw(json_values)
    elif action == "nested":  # damage inside a list of messages/completions, where converters index deeper
        lists = [k for k, v in row.items() if isinstance(v, list) and v]
        if lists:
            key = draw(st.sampled_from(lists))
            items = list(row[key])
            items[draw(st.integers(0, len(items) - 1))] = draw(json_values)
            row[key] = items
    elif action == "random":
        row = draw(st.dictionaries(st.sampled_from(sorted({k for r in rows for k in r}) + ["x"]), json_values,
                                   max_size=5))
    line = json.dumps(row)
    if action == "truncate":
        line = line[: draw(st.integers(1, max(1, len(line) - 1)))]
    return line


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


@PROPERTY
@given(data=st.data(), name=st.sampled_from(ROW_FORMATS))
def test_row_formats_account_for_every_row(tmp_path, data, name):
    lines = data.draw(st.lists(mutated_row(FIXTURES[name] + EDGE_ROWS.get(name, [])), min_size=1, max_size=8))
    whole = convert(_write(tmp_path / "all.jsonl", lines), name)
    rejected_lines = {r["line"] for r in whole.rejected}
    assert all(r["reason"] for r in whole.rejected)
    total = 0
    for number, line in enumerate(lines, start=1):
        alone = convert(_write(tmp_path / "one.jsonl", [line]), name)
        total += len(alone.records)
        if alone.records:
            assert number not in rejected_lines
        else:
            assert alone.rejected and number in rejected_lines, f"line {number} vanished: {line}"
    assert len(whole.records) == total
    kept_ids = {r["id"] for r in whole.records}
    for line in lines:  # every untouched valid row is in the output
        if line in map(json.dumps, FIXTURES[name]):
            for record in convert(_write(tmp_path / "valid.jsonl", [line]), name).records:
                assert record["id"] in kept_ids


@PROPERTY
@given(data=st.data())
def test_detection_never_crashes(tmp_path, data):
    name = data.draw(st.sampled_from(ROW_FORMATS))
    lines = data.draw(st.lists(mutated_row(FIXTURES[name]), min_size=1, max_size=6))
    try:
        result = convert(_write(tmp_path / "any.jsonl", lines))
    except RecordFileError as exc:  # no format fits: a message that lists what was tried, never a traceback
        assert "Tried" in str(exc) and "--format" in str(exc)
    else:
        assert len(result.records) + len(result.rejected) >= 1


OASST_ROWS = read_jsonl(OASST_FIXTURE)


@PROPERTY
@given(data=st.data())
def test_oasst_accounts_for_every_message(tmp_path, data):
    lines = [json.dumps(r) for r in OASST_ROWS]
    for _ in range(data.draw(st.integers(0, 4))):
        lines[data.draw(st.integers(0, len(lines) - 1))] = data.draw(mutated_row(OASST_ROWS))
    lines = data.draw(st.permutations(lines))
    result = convert(_write(tmp_path / "oasst.jsonl", lines), "oasst")
    used = set()
    for record in result.records:
        meta = record["metadata"]
        used |= set(meta["message_ids"]) | {meta.get("chosen_id"), meta.get("rejected_id")}
    rejected_lines = {r["line"] for r in result.rejected}
    seen = set()
    for number, line in enumerate(lines, start=1):
        if number in rejected_lines:
            continue
        row = json.loads(line)  # a line that is not rejected parsed, and is a message in some record
        assert row["message_id"] in used and row["message_id"] not in seen, f"line {number} vanished: {line}"
        seen.add(row["message_id"])


def test_unknown_format_says_why_each_format_did_not_fit(tmp_path):
    path = _write(tmp_path / "mystery.jsonl", [json.dumps({"question": "hi", "answer": "yo"})] * 3)
    with pytest.raises(RecordFileError) as info:
        convert(path)
    message = str(info.value)
    assert message.startswith(f"{path}: unknown data format. Tried ") and "Pass --format" in message
    for module in FORMATS:
        assert f"{module.NAME}: {module.fits({'question': 'hi', 'answer': 'yo'})}" in message
    assert set(BY_NAME) >= {"oasst", "messages", "alpaca"}
