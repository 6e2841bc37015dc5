"""Mixing to a target: per category asked / available / taken, a result that says when the size is not met,
`allow_short` and `upsample`, and categories or unlabelled records left out are reported, never silent."""

from __future__ import annotations

from chatrecipe.data.mix import allocate, mix


def conv(rid, category):
    record = {"id": rid, "messages": [{"role": "user", "content": f"q{rid}"}, {"role": "assistant", "content": "a"}],
              "category": category}
    if category != "other":
        record["metadata"] = {"category_source": "embeddings:test"}
    return record


def records(**counts):
    return [conv(f"{c}{i}", c) for c, n in counts.items() for i in range(n)]


def test_short_category_is_reported_and_not_met():
    result = mix(records(generation=50, coding=5), {"generation": 0.5, "coding": 0.5}, size=20, seed=1)
    by = {row["category"]: row for row in result.table}
    assert (by["generation"]["asked"], by["generation"]["available"], by["generation"]["taken"]) == (10, 50, 10)
    assert (by["coding"]["asked"], by["coding"]["available"], by["coding"]["taken"]) == (10, 5, 5)
    assert result.taken == 15 and not result.met and not result.ok
    assert len({r["id"] for r in result.records}) == 15  # never duplicated unless asked
    assert "coding: asked 10, only 5 available, took 5" in result.messages()
    assert any(m.startswith("the mix is short: 15 of 20 records") for m in result.messages())


def test_allow_short_accepts_and_upsample_meets_with_marked_copies():
    data = records(generation=50, coding=3)
    target = {"generation": 0.5, "coding": 0.5}
    short = mix(data, target, size=20, seed=1, allow_short=True)
    assert short.taken == 13 and not short.met and short.ok
    full = mix(data, target, size=20, seed=1, upsample=True)
    assert full.met and full.taken == 20
    coding = [r for r in full.records if r["category"] == "coding"]
    assert len(coding) == 10 and {r["id"] for r in coding if "#copy" not in r["id"]} == {"coding0", "coding1", "coding2"}
    copies = [r for r in coding if "#copy" in r["id"]]
    assert len(copies) == 7 and all(r["metadata"]["upsampled_from"] in {"coding0", "coding1", "coding2"} for r in copies)
    assert len({r["id"] for r in full.records}) == 20  # copies get ids of their own
    # each original appears before any appears a third time
    counts = [sum(r["metadata"].get("upsampled_from", r["id"]) == f"coding{i}" for r in coding) for i in range(3)]
    assert max(counts) - min(counts) <= 1
    assert {row["category"]: row["upsampled"] for row in full.table}["coding"] == 7


def test_categories_the_target_lacks_are_reported():
    result = mix(records(generation=20, chat=7, math=4), {"generation": 1.0}, size=10, seed=0)
    assert result.met and result.dropped == {"chat": 7, "math": 4}
    rows = {row["category"]: row for row in result.table}
    assert rows["chat"]["in_target"] is False and rows["chat"]["available"] == 7 and rows["chat"]["taken"] == 0
    assert "left out 11 records of categories the target does not name: chat (7), math (4)" in result.messages()


def test_unlabelled_records_are_counted():
    data = records(generation=5) + [conv(f"u{i}", "other") for i in range(7)]
    result = mix(data, {"generation": 0.5, "other": 0.5}, size=10, seed=0)
    assert result.unlabelled == 7
    assert any("7 records had no task category" in m for m in result.messages())


def test_asked_counts_add_up_to_the_size():
    target = {"generation": 1 / 3, "open_qa": 1 / 3, "coding": 1 / 3}
    assert sum(allocate(target, 100).values()) == 100
    assert sum(allocate({"a": 0.125, "b": 0.125, "c": 0.75}, 4).values()) == 4
    result = mix(records(generation=40, open_qa=40, coding=40), target, size=100, seed=3)
    assert result.met and result.taken == 100 and result.messages() == []


def test_upsample_names_the_categories_it_cannot_fill():
    """A category without a single record cannot be upsampled: the advice must not be 'pass --upsample' again."""
    result = mix(records(generation=2, coding=5), {"generation": 0.5, "rewrite": 0.25, "coding": 0.25}, size=20,
                 seed=1, upsample=True)
    assert result.taken == 15 and not result.ok
    short = [m for m in result.messages() if m.startswith("the mix is short")]
    assert short == ["the mix is short: 15 of 20 records: upsampling cannot fill rewrite, which has no records "
                     "(pass allow_short / --allow-short to accept it, add records of it, or use a target without it)"]
