"""Dedup of preference records: HH-RLHF comparisons that share one dialog but compare different final replies are
distinct examples; the same comparison twice is a duplicate; `key="prompt"` keeps one record per dialog."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatrecipe.data.convert import convert
from chatrecipe.data.dedup import dedup

HH = Path(__file__).parent / "fixtures" / "hh-rlhf-sample.jsonl"


@pytest.fixture(scope="module")
def pairs():
    return convert(HH).records


def test_pairs_sharing_a_dialog_are_distinct_comparisons(pairs):
    kept, clusters = dedup(pairs)
    board = [r for r in kept if r["prompt"][0]["content"].startswith("What are some good board games")]
    assert len(board) == 3  # three comparisons of different final replies to one dialog
    assert len(kept) == len(pairs) - 1  # only the repeated "scientists" comparison goes
    [cluster] = clusters
    assert cluster["duplicates"][0]["kind"] == "exact"


def test_near_duplicate_pair_needs_near_duplicate_replies_too(pairs):
    base = next(r for r in pairs if r["prompt"][0]["content"].startswith("Why do scientists"))
    reply = base["chosen"][0]["content"]
    near = {**base, "id": "near", "chosen": [{"role": "assistant", "content": reply.replace("nature.", "the natural world.")}]}
    other = {**base, "id": "other", "chosen": [{"role": "assistant", "content": "Scientists hold all kinds of beliefs."}]}
    kept, clusters = dedup([base, near, other], threshold=0.7)
    assert [r["id"] for r in kept] == [base["id"], "other"]
    assert clusters[0]["duplicates"] == [{"id": "near", "kind": "near"}]


def test_key_prompt_keeps_one_record_per_dialog(pairs):
    kept, _ = dedup(pairs, key="prompt")
    prompts = [r["prompt"][0]["content"] for r in kept]
    assert prompts.count("What are some good board games for a family game night?") == 1
    assert len(kept) == len(pairs) - 3
    with pytest.raises(ValueError, match="unknown dedup key"):
        dedup(pairs, key="reply")
