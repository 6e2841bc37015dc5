"""The cluster path of dedup: datatrove's MinHash pipeline with a LocalPipelineExecutor (2 shards, 2 workers)
finds the exact and near copies on a small file (as the in-process datasketch path finds the exact one), through `chatrecipe data dedup
--engine datatrove`, and a rerun resumes from the finished tasks."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chatrecipe.cli import app
from chatrecipe.data.dedup import dedup
from chatrecipe.data.records import read_jsonl

pytest.importorskip("datatrove")
pytest.importorskip("orjson")

STORY = ("Once upon a time a lighthouse keeper named Ada lived alone on a rocky island far from the coast. Every "
         "night she climbed one hundred and twelve steps to light the great lamp, and every morning she wrote down "
         "the ships she had seen in a thick leather book that her grandmother had given her long ago.")


def _conversation(rid, prompt, answer):
    return {"id": rid, "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}


def _records():
    records = [_conversation("story", "Write a story about a lighthouse keeper.", STORY),
               _conversation("exact-copy", "Write a story about a lighthouse keeper.", STORY),
               _conversation("near-copy", "Write a story about a lighthouse keeper.", STORY.replace("thick", "heavy"))]
    topics = ["volcanoes", "tax forms", "sourdough bread", "the French revolution", "sorting algorithms",
              "knitting socks", "black holes", "marathon training"]
    records += [_conversation(f"topic-{i}", f"Explain {topic} to a ten year old in a few sentences.",
                              f"Here is a simple explanation of {topic}, step {i}: it starts small and grows, "
                              f"and {topic} matter because people meet them in everyday life number {i * 37}.")
                for i, topic in enumerate(topics)]
    return records


def test_datatrove_engine_matches_datasketch(tmp_path):
    from chatrecipe.data.dedup_cluster import dedup_datatrove

    records = _records()
    kept, clusters = dedup_datatrove(records, tmp_path / "work", threshold=0.8, tasks=2, workers=2)
    assert [r["id"] for r in kept] == ["story"] + [f"topic-{i}" for i in range(8)]
    # the same exact duplicate in-process; LSH is probabilistic, so only require no distinct record lost there
    reference, review = dedup(records, threshold=0.8)
    assert {"story", *(f"topic-{i}" for i in range(8))} <= {r["id"] for r in reference}
    assert {"id": "exact-copy", "kind": "exact"} in review[0]["duplicates"]
    assert clusters == [{"kept": "story", "duplicates": [{"id": "exact-copy", "kind": "near"},
                                                         {"id": "near-copy", "kind": "near"}]}]


def test_cli_engine_datatrove_and_resume(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _records()))
    out = tmp_path / "dedup.jsonl"
    args = ["data", "dedup", str(data), "-o", str(out), "--engine", "datatrove", "--tasks", "2", "--workers", "2"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "2 duplicates in 1 clusters (datatrove)" in first.output
    assert len(read_jsonl(out)) == 9 and read_jsonl(tmp_path / "dedup.clusters.jsonl")[0]["kept"] == "story"
    logs = list((tmp_path / "dedup.datatrove").glob("*/logs/signatures/completions/*"))
    assert len(logs) == 2  # one completion marker per shard: a rerun skips them
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "2 duplicates in 1 clusters" in again.output
