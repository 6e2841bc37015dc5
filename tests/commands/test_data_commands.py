"""`chatrecipe data stats | mix | filter | dedup | decontaminate` on real-shaped HH-RLHF data: records without a
category are classified (or the output says the task table is uninformative), a short mix exits 1 unless told,
and every removal is counted by reason."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatrecipe.cli import app
from chatrecipe.data.records import read_jsonl

runner = CliRunner()
HH = Path(__file__).parents[1] / "data" / "fixtures" / "hh-rlhf-sample.jsonl"


def test_mix_of_unlabelled_data_is_short_and_says_why(tmp_path):
    out = tmp_path / "mixed.jsonl"
    args = ["data", "mix", str(HH), "--target", "instructgpt", "--size", "20", "-o", str(out), "--no-classify"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "12 of 12 records have no task category" in result.output
    # every record is "other", 3.5% of InstructGPT's mix: 1 of 20 asked can be given
    assert "the mix is short: 1 of 20 records" in result.output
    assert "other           target   3.5%  asked     1  available    12  taken     1" in result.output
    assert "generation: asked 9, only 0 available, took 0" in result.output
    allowed = runner.invoke(app, args + ["--allow-short"])
    assert allowed.exit_code == 0 and len(read_jsonl(out)) == 1
    up = runner.invoke(app, ["data", "mix", str(HH), "--target", str(_target(tmp_path)), "--size", "20", "-o",
                             str(out), "--no-classify", "--upsample"])
    assert up.exit_code == 0, up.output
    assert len(read_jsonl(out)) == 20 and "(8 repeats)" in up.output


def _target(tmp_path: Path) -> Path:
    path = tmp_path / "other-only.yaml"
    path.write_text("mix:\n  other: 1\n")
    return path


def test_mix_and_stats_classify_records_without_a_category(tmp_path, monkeypatch, classifier, classify_home):
    monkeypatch.setenv("CHATRECIPE_HOME", str(classify_home))
    out = tmp_path / "mixed.jsonl"
    result = runner.invoke(app, ["data", "mix", str(HH), "--target", "instructgpt", "--size", "6", "-o", str(out),
                                 "--allow-short"])
    assert result.exit_code == 0, result.output
    assert "classified 12 of 12 records that had no task category" in result.output
    assert "(not in target)" in result.output or "left out" not in result.output
    stats = runner.invoke(app, ["data", "stats", str(HH), "--tokenizer", "words", "--json"])
    assert stats.exit_code == 0, stats.output
    data = json.loads(stats.stdout.strip().splitlines()[-1])
    assert data["unlabelled"] == 0 and not any("no task category" in w for w in data["warnings"])
    categories = {row["category"] for row in data["tasks"]}
    assert "brainstorming" in categories and categories != {"other"}
    blind = runner.invoke(app, ["data", "stats", str(HH), "--tokenizer", "words", "--no-classify"])
    assert blind.exit_code == 0 and "the task table is uninformative" in blind.output


def test_filter_keeps_refused_chosen_replies_and_counts_by_filter(tmp_path):
    out = tmp_path / "kept.jsonl"
    result = runner.invoke(app, ["data", "filter", str(HH), "-o", str(out), "--max-tokens", "0"])
    assert result.exit_code == 0, result.output
    assert "kept 11, removed 1 (placeholder 1)" in result.output
    both = runner.invoke(app, ["data", "filter", str(HH), "-o", str(out), "--max-tokens", "0",
                               "--pair-refusals", "both"])
    assert "kept 10, removed 2 (pair_refusal 1, placeholder 1)" in both.output
    rejected = read_jsonl(tmp_path / "kept.rejected.jsonl")
    assert sorted(r["filter"] for r in rejected) == ["pair_refusal", "placeholder"]
    bad = runner.invoke(app, ["data", "filter", str(HH), "-o", str(out), "--pair-refusals", "chosen"])
    assert bad.exit_code == 2 and "--pair-refusals" in bad.output


def test_dedup_keys_and_decontaminate_report(tmp_path):
    out = tmp_path / "dedup.jsonl"
    result = runner.invoke(app, ["data", "dedup", str(HH), "-o", str(out)])
    assert result.exit_code == 0 and "1 duplicates in 1 clusters (datasketch)" in result.output
    by_prompt = runner.invoke(app, ["data", "dedup", str(HH), "-o", str(out), "--key", "prompt"])
    assert "3 duplicates in 2 clusters (datasketch, one record per prompt)" in by_prompt.output
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"question_id": 1, "turns": ["How do I hotwire a car?",
                                                                 "What are some cuss words in english?"]}) + "\n")
    checked = runner.invoke(app, ["data", "decontaminate", str(HH), "--eval", str(questions)])
    assert checked.exit_code == 0, checked.output
    # the two turns joined are 13 words (an n-gram check); each turn alone is shorter (matched whole)
    assert "1 items, 3 texts: 1 checked by 13-grams, 2 shorter ones matched whole; 2 training records hit" \
        in checked.output


def test_decontaminate_keeps_every_removed_record_with_its_reason(tmp_path):
    """Records removed for overlapping an evaluation set are kept beside the output with the match, like every
    filter's, and more matches than are printed are counted, not dropped from view."""
    train = tmp_path / "train.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"Can you parallelize it? (variant {i})"},
                          {"role": "assistant", "content": "Yes."}]} for i in range(60)]
    rows.append({"messages": [{"role": "user", "content": "Tell me about the weather in Paris today please"},
                              {"role": "assistant", "content": "It is sunny."}]})
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"question_id": 121, "turns": ["Write a word counter.", "Can you parallelize it?"]})
                         + "\n")
    out = tmp_path / "clean.jsonl"
    result = runner.invoke(app, ["data", "decontaminate", str(train), "--eval", str(questions), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "60 contaminated of 61" in result.output
    assert "... and 10 more matches (all of them go to the rejected file)" in result.output
    assert len(read_jsonl(out)) == 1
    removed = read_jsonl(tmp_path / "clean.rejected.jsonl")
    assert len(removed) == 60 and {r["filter"] for r in removed} == {"decontaminate"}
    assert removed[0]["reason"] == f"equals {questions} item 121: 'can you parallelize it'"
    assert removed[0]["record"]["messages"][0]["content"] == "Can you parallelize it? (variant 0)"


def test_an_empty_or_binary_input_stops_every_data_command(tmp_path):
    """Before: `data classify`, `stats`, `filter`, `dedup`, `decontaminate` read an empty or binary file as an empty
    dataset and exited 0 ("0 records -> out"); now each says what the file looked like and exits 1, as convert does."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(128, 256)))
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"question_id": 1, "turns": ["What is the capital of France?"]}) + "\n")
    out = str(tmp_path / "out.jsonl")
    commands = [["data", "classify", "-o", out], ["data", "stats", "--tokenizer", "words", "--no-classify"],
                ["data", "filter", "-o", out, "--max-tokens", "0"], ["data", "dedup", "-o", out],
                ["data", "decontaminate", "--eval", str(questions), "-o", out]]
    for args in commands:
        for path, says in ((empty, "the file is empty"), (binary, "is not UTF-8")):
            result = runner.invoke(app, [*args, str(path)])
            assert result.exit_code == 1, (args, result.output)
            assert f"{path}: no record could be read (" in result.output and says in result.output, result.output


def test_a_file_whose_every_row_is_rejected_names_the_rows(tmp_path):
    """Rows that were read but are all invalid here (prompts that end with the user's turn, for `data stats`): the
    error names the first rows and why, instead of an empty table with exit 0."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}?"}]}) + "\n"
                               for i in range(4)))
    result = runner.invoke(app, ["data", "stats", str(prompts), "--tokenizer", "words", "--no-classify"])
    assert result.exit_code == 1, result.output
    assert (f"{prompts}: no valid record: all 4 rows were rejected ({prompts}:1: field 'messages[0].role': the "
            "conversation must end with an assistant turn;") in result.output and "; ...)" in result.output


def test_classify_views_that_are_not_numbers_say_how_to_write_them(tmp_path):
    result = runner.invoke(app, ["data", "classify", "--evaluate", "--views", "12,twentyfour"])
    assert result.exit_code == 2
    assert "--views '12,twentyfour': write token counts separated by commas, e.g. 12,24" in result.output


def test_convert_with_every_row_rejected_says_so_not_kind_none(tmp_path):
    rows = tmp_path / "summarize.jsonl"
    rows.write_text(json.dumps({"info": {"id": "x", "post": "p", "title": "t", "subreddit": "s"},
                                "summaries": [{"text": "a", "policy": "p"}], "choice": 0, "worker": "w",
                                "split": "train", "extra": {}}) + "\n")
    result = CliRunner().invoke(app, ["data", "convert", str(rows), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert "kind: none (every row was rejected)" in result.output and "kind: None" not in result.output
