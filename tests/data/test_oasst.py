"""OpenAssistant message trees: detection, the best-ranked thread per tree, all ranked pairs with rank-difference
margins, and a reason for every message that ends up in no record. Fixture: tests/data/fixtures/oasst1-sample.jsonl,
written for the project in the oasst1 export's row format (13 messages, 3 trees, a deleted and an orphan row)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatrecipe.cli import app
from chatrecipe.data.convert import convert
from chatrecipe.data.records import read_jsonl

FIXTURE = Path(__file__).parent / "fixtures" / "oasst1-sample.jsonl"


def _texts(messages):
    return [m["content"][:12] for m in messages]


def test_detects_and_converts_trees():
    result = convert(FIXTURE)
    assert result.format == "oasst" and result.kind == "mixed"
    conversations = [r for r in result.records if "messages" in r]
    pairs = [r for r in result.records if "chosen" in r]
    # tree 1 follows rank 0 at every step; tree 2 has one unranked reply; tree 3 has no reply
    assert [_texts(c["messages"]) for c in conversations] == [
        ["What is a go", "How about \"T", "Nice! Can yo", "\"Crumb\" is s"],
        ["Wie spät ist", "Im Winter is"]]
    assert conversations[1]["metadata"]["lang"] == "de"
    assert [m["role"] for m in conversations[0]["messages"]] == ["user", "assistant", "user", "assistant"]
    summary = sorted((len(p["prompt"]), p["chosen"][0]["content"][:6], p["rejected"][0]["content"][:6], p["margin"])
                     for p in pairs)
    assert summary == [(1, "Bakery", "I cann", 1.0), (1, "How ab", "Bakery", 1.0), (1, "How ab", "I cann", 2.0),
                       (3, "\"Crumb", "Bread.", 1.0)]
    assert all(p["prompt"][-1]["role"] == "user" and p["source"] == "oasst" for p in pairs)


def test_every_message_is_used_or_rejected_with_a_reason():
    rows = read_jsonl(FIXTURE)
    result = convert(FIXTURE)
    used = set()
    for record in result.records:
        meta = record["metadata"]
        used.update(meta["message_ids"])
        used.update(filter(None, (meta.get("chosen_id"), meta.get("rejected_id"))))
    reasons = {r["record"]["text"][:10]: r["reason"] for r in result.rejected}
    assert used | {r["record"]["message_id"] for r in result.rejected} == {r["message_id"] for r in rows}
    assert len(result.rejected) == 4
    assert "deleted" in reasons["[removed]"]
    assert "not reachable" in reasons["An answer w"[:10]]
    assert "in no record" in reasons["Tell me a "] and "in no record" in reasons["That is bo"]


def test_broken_tree_rows_are_rejected(tmp_path):
    rows = read_jsonl(FIXTURE)[:8]
    rows[4] = {**rows[4], "role": "assistant"}  # P2 now an assistant answering an assistant
    rows.append({**rows[1], "message_id": rows[1]["message_id"]})  # duplicate id
    rows.append({"message_id": "c1", "parent_id": "c2", "text": "loop", "role": "prompter", "rank": None})
    rows.append({"message_id": "c2", "parent_id": "c1", "text": "loop", "role": "assistant", "rank": 0})
    path = tmp_path / "broken.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    result = convert(path)
    reasons = [r["reason"] for r in result.rejected]
    assert any("roles must alternate" in r for r in reasons)
    assert any("duplicate message_id" in r for r in reasons)
    assert sum("not reachable" in r for r in reasons) == 4  # A4, A5 under the broken P2, and the cycle
    assert any("malformed JSON" in r for r in reasons)
    assert [len(c["messages"]) for c in result.records if "messages" in c] == [2]


def test_cli_convert(tmp_path):
    out = tmp_path / "oasst.jsonl"
    result = CliRunner().invoke(app, ["data", "convert", str(FIXTURE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "format: oasst, kind: mixed" in result.output
    assert len(read_jsonl(out)) == 6 and len(read_jsonl(tmp_path / "oasst.rejected.jsonl")) == 4
