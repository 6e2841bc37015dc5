"""The recipe's data tables on hand-countable records: lengths per source/split, tasks vs a target, turns,
margins and the chosen-minus-rejected difference; the files and plots that `write_stats` leaves."""

from __future__ import annotations

import json

import pytest

from chatrecipe.data.mixes import list_mixes, load_mix, load_mix_file
from chatrecipe.data.stats import (dataset_stats, describe, length_frame, length_table, stats_tables, task_table,
                                   turns_table, write_stats)


def conv(user: str, answer: str, source="a", split="train", category="generation", turns=1):
    messages = []
    for _ in range(turns):
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"messages": messages, "source": source, "split": split, "category": category}


def pair(prompt: str, chosen: str, rejected: str, margin=None, category="coding"):
    return {"prompt": [{"role": "user", "content": prompt}], "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}], "margin": margin, "category": category,
            "source": "pairs"}


RECORDS = [conv("one two", "three", split="train"), conv("one two three", "four five six seven", split="train"),
           conv("a", "b c", split="valid"), conv("x y", "z", source="b", split="-", category="rewrite", turns=3)]


def test_length_table_per_source_and_split_in_words():
    table = length_table(RECORDS).set_index(["source", "split"])
    # totals in whitespace words: 3 and 7 (a/train), 3 (a/valid), 3 turns x 3 words = 9 (b)
    train = table.loc[("a", "train")]
    assert (train["count"], train["mean"], train["min"], train["max"]) == (2, 5.0, 3, 7)
    assert train["std"] == pytest.approx(2.8, abs=0.05)  # sample std of (3, 7)
    assert train["25%"] == 4.0 and train["50%"] == 5.0 and train["75%"] == 6.0
    assert table.loc[("b", "-"), "mean"] == 9.0
    prompts = length_table(RECORDS, part="prompt").set_index(["source", "split"])
    assert prompts.loc[("a", "train"), "mean"] == 2.5
    assert list(length_table(RECORDS).columns) == ["source", "split", "count", "mean", "std", "min", "25%", "50%",
                                                   "75%", "max"]


def test_length_table_counts_tokens_of_the_given_tokenizer(tiny_tokenizer):
    frame = length_frame(RECORDS, tiny_tokenizer)
    text = "one two three\nfour five six seven"
    expected = len(tiny_tokenizer("one two three", add_special_tokens=False)["input_ids"]) + \
        len(tiny_tokenizer("four five six seven", add_special_tokens=False)["input_ids"])
    assert frame.loc[1, "total"] == expected and expected > len(text.split())  # byte-level BPE: more than words
    assert length_table(frame).set_index(["source", "split"]).loc[("a", "train"), "max"] == expected


def test_task_table_against_target_mix():
    table = task_table(RECORDS, target_mix={"generation": 1, "rewrite": 1, "math": 2}).set_index("category")
    assert table.loc["generation", "count"] == 3 and table.loc["generation", "percent"] == 75.0
    assert table.loc["generation", "mean_length"] == pytest.approx((3 + 7 + 3) / 3, abs=0.05)
    assert table.loc["math", "count"] == 0 and table.loc["math", "target_percent"] == 50.0
    assert table.loc["rewrite", "difference"] == 0.0  # 25% of the data, 25% of the target


def test_turns_margins_and_length_difference():
    records = RECORDS + [pair("p", "long chosen answer here", "short", margin=2.0),
                         pair("q", "x", "much longer rejected one", margin=None)]
    turns = turns_table(records).set_index("turns")
    assert turns.loc[1, "dialogs"] == 5 and turns.loc[3, "dialogs"] == 1
    stats = dataset_stats(records)
    assert stats["kinds"] == {"conversation": 4, "preference": 2}
    assert stats["margins"]["count"] == 1 and stats["margins"]["mean"] == 2.0
    assert stats["chosen_minus_rejected_length"]["min"] == -3 and stats["chosen_minus_rejected_length"]["max"] == 3
    assert stats["chosen_longer_percent"] == 50.0
    titles = [t["title"] for t in stats_tables(stats)]
    assert "Preference margins" in titles and "Chosen minus rejected length (tokens)" in titles


def test_write_stats_files_and_plots(tmp_path):
    stats = dataset_stats(RECORDS + [pair("p", "a b", "c", margin=1.0)], None, "instructgpt")
    paths = write_stats(stats, tmp_path / "out", label="sft")
    names = {p.name for p in paths}
    assert {"stats.json", "stats.md", "length_distribution.csv", "task_distribution.csv", "length_histogram.png",
            "task_distribution.png", "margins.png", "length_difference.png"} <= names
    for path in paths:
        assert path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert saved["target_mix"] == "instructgpt" and "_raw" not in saved
    assert "| generation | 3 | 60.0 |" in (tmp_path / "out" / "stats.md").read_text()


def test_stats_streams_a_generator_in_chunks():
    many = (conv(f"q {i}", "w " * (i % 7 + 1)) for i in range(10_000))
    frame = length_frame(many)
    assert len(frame) == 10_000 and frame["completion"].max() == 7


def test_describe_empty_and_single():
    assert describe([])["count"] == 0
    assert describe([5]) == {"count": 1, "mean": 5.0, "std": 0.0, "min": 5, "25%": 5.0, "50%": 5.0, "75%": 5.0,
                             "max": 5}


def test_shipped_mixes_carry_the_talks_figures(tmp_path):
    assert set(list_mixes()) >= {"instructgpt", "surge10k", "h4-preferences"}
    assert load_mix("instructgpt")["generation"] == pytest.approx(45.6 / 99.9)  # the paper's % sum to 99.9
    assert load_mix("surge10k")["generation"] == pytest.approx(4346 / 9500)
    h4 = load_mix_file("h4-preferences")
    assert h4["mix"]["coding"] == pytest.approx(0.15) and h4["max_total_tokens"] == 2048
    assert load_mix_file("surge10k")["mean_length"]["rewrite"] == pytest.approx(449.1)
    for name in list_mixes():
        assert sum(load_mix(name).values()) == pytest.approx(1.0)
    own = tmp_path / "mine.yaml"
    own.write_text("coding: 3\nmath: 1\n")
    assert load_mix(own) == {"coding": 0.75, "math": 0.25}
    with pytest.raises(ValueError, match="unknown categories"):
        load_mix({"poetry": 1})
    with pytest.raises(ValueError, match=">= 0"):
        load_mix({"coding": -1, "math": 2})
    with pytest.raises(ValueError, match="shipped"):
        load_mix("no-such-mix")


def test_task_table_of_unclassified_records_says_it_is_uninformative(tmp_path):
    # what converted HH-RLHF looks like: validation made every category "other", no classifier gave it
    records = [pair(f"q{i}", "a", "b", category="other") for i in range(9)] + [pair("p", "x y", "z")]
    stats = dataset_stats(records)
    assert stats["unlabelled"] == 9
    small, warning = stats["warnings"]
    assert small.startswith("only 10 records: one record moves a category's share by 10 points")
    assert warning.startswith("9 of 10 records (90%) have no task category") and "uninformative" in warning
    assert "chatrecipe data classify" in warning
    [tasks] = [t for t in stats_tables(stats) if t["title"].startswith("Task distribution")]
    assert tasks["note"] == f"{small} {warning}"
    write_stats(stats, tmp_path)
    assert "9 of 10 records (90%) have no task category" in (tmp_path / "stats.md").read_text()
    classified = [{**r, "metadata": {"category_source": "embeddings:test"}} for r in records] * 3
    assert dataset_stats(classified)["warnings"] == [] and dataset_stats(classified)["unlabelled"] == 0
