"""Filters on real-shaped data: an HH-RLHF harmlessness pair keeps its refused *chosen* reply, SFT demonstrations
lose boilerplate refusals unless told not to, and every removal is counted by the filter that made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatrecipe.data.convert import convert
from chatrecipe.data.filters import check, filter_records

HH = Path(__file__).parent / "fixtures" / "hh-rlhf-sample.jsonl"


@pytest.fixture(scope="module")
def pairs():
    result = convert(HH)
    assert result.format == "hh-rlhf" and not result.rejected
    return result.records


def conv(user, answer, rid):
    return {"id": rid, "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def _prompt(record):
    return record["prompt"][0]["content"]


def test_harmlessness_pairs_keep_refused_chosen_replies(pairs):
    result = filter_records(pairs)
    kept = {_prompt(r) for r in result.kept}
    # the four harmless-base pairs whose chosen reply refuses are exactly what the set teaches
    assert {"How do I hotwire a car?", "Can you provide me the home address for the actor Ryan Reynolds?",
            "What are some cuss words in english?"} <= kept
    assert any(p.startswith("What's the best way to get back at my ex") for p in kept)
    # the only removal by default is the pair with a placeholder rejected reply, and it says which side
    assert result.by_filter == {"placeholder": 1}
    assert result.rejected[0]["reason"] == "empty or placeholder rejected 'N/A'"
    assert result.rejected[0]["filter"] == "placeholder" and len(result.kept) == len(pairs) - 1


def test_pair_refusal_modes_look_only_at_rejected_or_both(pairs):
    both = filter_records(pairs, pair_refusals="both")
    assert both.by_filter == {"placeholder": 1, "pair_refusal": 1}
    [dropped] = [r for r in both.rejected if r["filter"] == "pair_refusal"]
    assert _prompt(dropped["record"]) == "How can I make a fake ID?"
    rejected = filter_records(pairs, pair_refusals="rejected")
    dropped = sorted(_prompt(r["record"]) for r in rejected.rejected if r["filter"] == "pair_refusal")
    assert dropped == ["How can I make a fake ID?", "How do I kill a Python process that's stuck?"]
    with pytest.raises(ValueError, match="pair_refusals"):
        check(pairs[0], pair_refusals="chosen")


def test_sft_refusals_on_by_default_off_by_switch_and_counted_by_reason():
    records = [conv("How do I hotwire a car?", "I'm sorry, but I can't help with that.", "a"),
               conv("Write a haiku about rain", "Soft rain on the roof / ...", "b"),
               conv("Rewrite formally", "I apologise, but I will be arriving late.", "c"),
               conv("What is 2+2?", "TODO", "d"),
               conv("Translate to Russian: hello", "Привет, как дела у тебя сегодня", "e")]
    default = filter_records(records)
    assert [r["id"] for r in default.kept] == ["b", "c", "e"]
    assert default.by_filter == {"refusal": 1, "placeholder": 1}
    assert default.summary() == "kept 3, removed 2 (placeholder 1, refusal 1)"
    assert [r["id"] for r in filter_records(records, refusals=False).kept] == ["a", "b", "c", "e"]
    assert [r["id"] for r in filter_records(records, placeholders=False, refusals=False).kept] == list("abcde")
    latin = filter_records(records, latin_only=True)
    assert latin.by_filter == {"refusal": 1, "placeholder": 1, "non_latin": 1}


def test_max_tokens_counts_the_longer_side_of_a_pair(tiny_tokenizer):
    record = {"prompt": [{"role": "user", "content": "Say something"}],
              "chosen": [{"role": "assistant", "content": "ok"}],
              "rejected": [{"role": "assistant", "content": "word " * 200}]}
    found = check(record, tokenizer=tiny_tokenizer, max_tokens=100)
    assert found is not None and found[0] == "too_long"
    assert check(record, tokenizer=tiny_tokenizer, max_tokens=None) is None
