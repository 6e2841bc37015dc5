"""The public training formats, one fixture each (tests/data/fixtures/, written for chatrecipe from each format's
published schema: dataset cards, READMEs, the OpenAssistant export's pydantic classes), converted with the
signal they carry; every fixture round-trips (read theirs, write ours, read ours: the same records), and reads
the same from Parquet and from a `datasets` folder as from JSON Lines."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from chatrecipe.data.convert import convert
from chatrecipe.data.records import RecordFileError, load_records, read_jsonl, write_records

FIXTURES = Path(__file__).parent / "fixtures"

# fixture -> (format, records, rejected): the counts follow from the rows, see each test below for why
EXPECTED = {
    "alpaca_data.json": ("alpaca", 3, 1),  # the published file is one JSON array
    "arena-conversations.jsonl": ("arena", 2, 1),
    "capybara.jsonl": ("capybara", 2, 1),
    "h4-ultrachat-200k.jsonl": ("h4", 2, 1),
    "h4-ultrafeedback-binarized.jsonl": ("h4", 2, 1),
    "helpsteer2.jsonl": ("helpsteer2", 2, 3),
    "helpsteer2-preference.jsonl": ("helpsteer2", 1, 1),
    "hh-rlhf.jsonl": ("hh-rlhf", 2, 1),
    "nectar.jsonl": ("nectar", 23, 1),
    "oasst-sample.trees.jsonl": ("oasst-trees", 6, 4),
    "oasst1-sample.jsonl": ("oasst", 6, 4),
    "sharegpt-variants.jsonl": ("sharegpt", 3, 1),
    "shp.jsonl": ("shp", 2, 0),
    "summarize-comparisons.jsonl": ("summarize", 2, 1),
    "trl-implicit-prompt.jsonl": ("implicit-prompt", 2, 0),
    "trl-prompt-completion.jsonl": ("prompt-completion", 3, 1),
    "trl-unpaired.jsonl": ("unpaired", 3, 1),
    "ultrafeedback.jsonl": ("ultrafeedback", 1, 1),
}


def by_text(records, side="chosen"):
    return {r[side][-1]["content"]: r for r in records}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_detected_converted_and_every_row_accounted_for(name):
    fmt, n_records, n_rejected = EXPECTED[name]
    result = convert(FIXTURES / name)
    assert (result.format, len(result.records), len(result.rejected)) == (fmt, n_records, n_rejected)
    assert result.reason.startswith(f"{FIXTURES / name}: {fmt}, since ")
    assert all(r["reason"] and r["file"] == str(FIXTURES / name) for r in result.rejected)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_round_trip_theirs_ours_ours(tmp_path, name):
    records = convert(FIXTURES / name).records
    write_records(tmp_path / "ours.jsonl", records)
    again = load_records(tmp_path / "ours.jsonl")
    assert again.rejected == [] and again.records == records
    assert convert(tmp_path / "ours.jsonl").records == records  # ours, read back by convert, as itself


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"trl-prompt-completion.jsonl"}))  # str and list: no Arrow type
def test_parquet_and_datasets_folder_read_like_json_lines(tmp_path, name):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, expected = read_jsonl(FIXTURES / name), convert(FIXTURES / name).records
    table = pa.Table.from_struct_array(pa.array(rows))  # every row's columns (from_pylist keeps the first row's)
    pq.write_table(table, tmp_path / "theirs.parquet")
    assert convert(tmp_path / "theirs.parquet").records == expected
    datasets.Dataset(datasets.table.InMemoryTable(table)).save_to_disk(str(tmp_path / "theirs"))
    assert convert(tmp_path / "theirs").records == expected


def test_oasst_tree_export_gives_the_records_of_the_same_trees_flat(tmp_path):
    flat, trees = convert(FIXTURES / "oasst1-sample.jsonl"), convert(FIXTURES / "oasst-sample.trees.jsonl")
    assert trees.records == flat.records
    reasons = Counter(r["reason"].split(":")[0] for r in trees.rejected)
    assert reasons["tree_state 'aborted_low_grade'"] == 1
    assert reasons["the message was deleted in the OpenAssistant export"] == 1
    pair = next(r for r in trees.records if "chosen" in r)
    assert pair["metadata"]["chosen_labels"] == {"spam": 0.0, "quality": 0.75}
    gz = tmp_path / "2023-04-12_oasst_ready.trees.jsonl.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "oasst-sample.trees.jsonl").read_bytes()))
    assert convert(gz).records == flat.records


def test_long_thread_unfolds(tmp_path):
    depth = 300  # far longer than any real thread; each level is two JSON levels (message, replies)
    node = None
    for level in reversed(range(depth)):
        role = "prompter" if level % 2 == 0 else "assistant"
        node = {"message_id": f"m{level}", "text": f"turn {level}", "role": role, "rank": 0 if level % 2 else None,
                "replies": [node] if node else None}
    path = tmp_path / "deep.trees.jsonl"
    path.write_text(json.dumps({"message_tree_id": "m0", "tree_state": "ready_for_export", "prompt": node}) + "\n")
    result = convert(path)
    assert result.format == "oasst-trees" and len(result.records[0]["messages"]) == depth


def test_summarize_keeps_confidence_worker_and_split():
    result = convert(FIXTURES / "summarize-comparisons.jsonl")
    first, second = result.records
    assert (first["rating"], first["scale"], first["margin"]) == (8, "confidence-9", 3 * 7 / 8)
    assert first["annotator"] == "w-ikNmucwun" and first["metadata"]["split"] == "train"
    assert first["metadata"]["chosen_policy"] == "sup4_ppo_rm3_kl10"
    assert first["metadata"]["subreddit"] == "relationships"
    assert (second["rating"], second["margin"], second["metadata"]["split"]) == (1, 0.0, "valid2")
    assert second["chosen"][0]["content"].startswith(" Clean flat")  # choice 1: the second summary
    assert result.rejected[0]["record"]["info"]["site"] == "dailymail"


def test_ultrafeedback_keeps_fine_grained_ratings():
    pair = convert(FIXTURES / "ultrafeedback.jsonl").records[0]
    assert (pair["margin"], pair["rating"], pair["scale"]) == (7.0, 9.0, "score")
    assert pair["metadata"]["chosen"] == {"model": "gpt-4", "fine_grained_score": 5.0, "ratings": {
        "instruction_following": 5.0, "honesty": 5.0, "truthfulness": 5.0, "helpfulness": 5.0}}
    assert pair["metadata"]["rejected"]["model"] == "falcon-40b-instruct"
    assert pair["metadata"]["rejected"]["ratings"]["honesty"] == 2.0


def test_ultrafeedback_ranks_every_completion_of_a_row_on_one_scale(tmp_path):
    # one completion without an overall_score (1-10) used to be ranked by its aspect mean (1-5) among the others'
    # overall scores: falcon's aspects averaging 4 made it the "worst" answer, below alpaca's aspects of 1
    row = json.loads((FIXTURES / "ultrafeedback.jsonl").read_text().splitlines()[0])
    aspects = {"instruction_following": 4, "honesty": 4, "truthfulness": 4, "helpfulness": 4}
    for completion, mean in zip(row["completions"], (5, 1, 4)):
        completion["annotations"] = {a: {"Rating": str(mean if a != "honesty" else aspects[a]), "Rationale": "."}
                                     for a in aspects}
    row["completions"][2]["overall_score"] = None
    path = tmp_path / "uf.jsonl"
    path.write_text(json.dumps(row) + "\n")
    pair = convert(path).records[0]
    means = [(mean * 3 + 4) / 4 for mean in (5, 1, 4)]  # honesty 4 everywhere, the other three aspects `mean`
    assert pair["chosen"][0]["content"] == row["completions"][0]["response"]
    assert pair["rejected"][0]["content"] == row["completions"][1]["response"]
    assert pair["margin"] == means[0] - means[1]


def test_shp_keeps_votes_and_score_ratio():
    first, second = convert(FIXTURES / "shp.jsonl").records
    assert first["metadata"]["score_chosen"] == 52 and first["metadata"]["score_rejected"] == 8
    assert first["metadata"]["upvote_ratio"] == 0.99 and first["rating"] == 6.5
    assert abs(first["margin"] - 1.8718) < 1e-4  # log(6.5)
    assert second["chosen"][0]["content"].startswith("Purring") and second["metadata"]["score_chosen"] == 41
    assert second["metadata"]["chosen_id"] == "h1b"


def test_arena_keeps_every_turn_language_and_models():
    result = convert(FIXTURES / "arena-conversations.jsonl")
    multi = next(r for r in result.records if r["metadata"]["turn"] == 2)
    assert [m["role"] for m in multi["prompt"]] == ["user"]
    assert [m["role"] for m in multi["chosen"]] == ["assistant", "user", "assistant"]
    assert multi["chosen"][-1]["content"].endswith("¡Nada!") and multi["rejected"][-1]["content"] == "No."
    assert multi["metadata"]["language"] == "Spanish" and multi["metadata"]["model_chosen"] == "vicuna-13b"
    assert multi["annotator"] == "arena_user_1219"
    assert "tie is a battle" in result.rejected[0]["reason"]


def test_hh_rlhf_pairs_that_differ_early_split_on_their_common_prompt():
    result = convert(FIXTURES / "hh-rlhf.jsonl")
    early = by_text(result.records)["Great: a fraction is a part of a whole, like 1/2."]
    assert early["prompt"] == [{"role": "user", "content": "Can you help me with my homework?"}]
    assert [m["content"] for m in early["chosen"]] == ["Of course, what is it about?", "Fractions.",
                                                       "Great: a fraction is a part of a whole, like 1/2."]
    assert [m["content"] for m in early["rejected"]] == ["No.", "Fractions.", "I said no."]
    assert result.rejected[0]["line"] == 3 and "identical to chosen" in result.rejected[0]["reason"]


def test_h4_rows():
    chat = convert(FIXTURES / "h4-ultrachat-200k.jsonl")
    assert [r["id"] for r in chat.records] == ["a1f3c0", "b27e91"] and len(chat.records[0]["messages"]) == 4
    assert chat.rejected[0]["line"] == 3 and "end with an assistant turn" in chat.rejected[0]["reason"]
    prefs = convert(FIXTURES / "h4-ultrafeedback-binarized.jsonl")
    first = prefs.records[0]
    assert first["id"] == "d41d8c"
    assert first["prompt"] == [{"role": "user", "content": "What is the boiling point of water at sea level?"}]
    assert (first["margin"], first["rating"], first["metadata"]["score_rejected"]) == (5.5, 9.0, 3.5)
    assert prefs.records[1]["margin"] == 0.0  # equal scores, different answers: a pair with no margin to spare
    assert "identical" in prefs.rejected[0]["reason"]


def test_nectar_rankings_become_all_pairs():
    result = convert(FIXTURES / "nectar.jsonl")
    seven = [r for r in result.records if len(r["prompt"]) == 1 and "sleep" in r["prompt"][0]["content"]]
    assert len(seven) == 21  # 7 answers: every better against every worse
    assert sorted(Counter(r["margin"] for r in seven).items()) == [(1.0, 6), (2.0, 5), (3.0, 4), (4.0, 3), (5.0, 2),
                                                                   (6.0, 1)]
    best = by_text(seven)["Keep a regular schedule, even at weekends."]
    assert best["metadata"]["model_chosen"] == "gpt-4"
    multi = [r for r in result.records if len(r["prompt"]) == 3]
    assert len(multi) == 2 and {r["rejected"][0]["content"] for r in multi} == {"6."}  # 1 and 1 tie: no pair
    assert "ranked differently" in result.rejected[0]["reason"]


def test_helpsteer2_pairs_by_the_chosen_attribute():
    default = convert(FIXTURES / "helpsteer2.jsonl")
    assert sorted((r["chosen"][0]["content"][:10], r["margin"]) for r in default.records) == [
        ("About 2.8 ", 2.0), ("C# is a pr", 2.0)]
    italy = by_text(default.records)["About 2.8 million people live in Rome itself."]
    assert [m["role"] for m in italy["prompt"]] == ["user", "assistant", "user"]
    assert italy["metadata"]["scores_rejected"]["correctness"] == 3
    reasons = Counter(r["reason"].split(",")[0] for r in default.rejected)
    assert reasons == {"scored like every other response to its prompt on helpfulness": 2,
                       "the only response to its prompt": 1}
    correct = convert(FIXTURES / "helpsteer2.jsonl", options={"attribute": "correctness"})
    assert len(correct.records) == 3 and all(r["metadata"]["attribute"] == "correctness" for r in correct.records)
    assert by_text(correct.records)["Plants use sunlight to turn air and water into food."]["margin"] == 1.0
    with pytest.raises(RecordFileError, match="unknown HelpSteer2 attribute"):
        convert(FIXTURES / "helpsteer2.jsonl", options={"attribute": "kindness"})
    with pytest.raises(RecordFileError, match="unknown option 'atribute'"):
        convert(FIXTURES / "helpsteer2.jsonl", options={"atribute": "correctness"})
    stated = convert(FIXTURES / "helpsteer2-preference.jsonl").records[0]
    assert stated["chosen"][0]["content"] == "The meeting is now on Friday." and stated["margin"] == 2.0


def test_capybara_sharegpt_variants_and_trl_rows():
    capybara = convert(FIXTURES / "capybara.jsonl").records
    assert len(capybara[0]["messages"]) == 4 and capybara[0]["metadata"] == {"origin": "Airoboros"}
    sharegpt = convert(FIXTURES / "sharegpt-variants.jsonl")
    slimorca, hermes, vicuna = sharegpt.records
    assert slimorca["messages"][0]["role"] == "system" and hermes["metadata"]["weights"] == [0.0, 1.0, 0.0, 1.0]
    assert hermes["source"] == "airoboros2.2" and [m["role"] for m in vicuna["messages"]] == ["user", "assistant"]
    assert "function_call" in sharegpt.rejected[0]["reason"]
    completions = convert(FIXTURES / "trl-prompt-completion.jsonl").records
    assert completions[0]["messages"] == [{"role": "user", "content": "The sky is"},
                                          {"role": "assistant", "content": " blue."}]
    assert [m["role"] for m in completions[2]["messages"]] == ["system", "user", "assistant"]
    implicit = convert(FIXTURES / "trl-implicit-prompt.jsonl").records
    assert len(implicit[1]["prompt"]) == 1 and len(implicit[1]["chosen"]) == 3


def test_unpaired_rows_are_paired_back():
    result = convert(FIXTURES / "trl-unpaired.jsonl")
    pairs = [r for r in result.records if "chosen" in r]
    assert sorted(r["rejected"][0]["content"] for r in pairs) == ["It is green.", "It is purple."]
    assert all(r["chosen"][0]["content"] == "It is blue." and r["margin"] is None for r in pairs)
    assert [r["messages"][-1]["content"] for r in result.records if "messages" in r] == ["In the sky."]
    assert result.rejected[0]["line"] == 5 and "no desirable one" in result.rejected[0]["reason"]


def test_mixed_file_is_read_row_by_row_and_says_which_lines(tmp_path):
    lines = (FIXTURES / "capybara.jsonl").read_text().splitlines()[:2] + \
        (FIXTURES / "hh-rlhf.jsonl").read_text().splitlines()[:2] + \
        (FIXTURES / "trl-unpaired.jsonl").read_text().splitlines()[:2]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = convert(path)
    assert result.format == "mixed" and result.formats == {"capybara": 2, "hh-rlhf": 2, "unpaired": 2}
    assert len(result.records) == 5 and result.rejected == []  # 2 + 2 conversations/pairs, 1 pair from KTO rows
    assert "capybara 1-2" in result.reason and "hh-rlhf 3-4" in result.reason and "unpaired 5-6" in result.reason
    # a file that is mostly one format keeps it, and says which lines were another
    mostly = tmp_path / "mostly.jsonl"
    mostly.write_text("\n".join(lines[2:4] * 3 + lines[:1]) + "\n")
    result = convert(mostly)
    assert result.formats == {"hh-rlhf": 6, "capybara": 1} and "capybara 7" in result.reason
    assert result.reason.startswith(f"{mostly}: hh-rlhf, since 6 of 7 sampled rows have")


def test_cli_convert_prints_why(tmp_path):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    out = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(app, ["data", "convert", str(FIXTURES / "nectar.jsonl"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "format: nectar, kind: preference" in result.output and "ranked `answers`" in result.output
    assert len(read_jsonl(out)) == 23


def test_cli_convert_takes_format_options(tmp_path):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    out = tmp_path / "pairs.jsonl"
    args = ["data", "convert", str(FIXTURES / "helpsteer2.jsonl"), "-o", str(out)]
    result = CliRunner().invoke(app, args + ["--option", "attribute=correctness"])
    assert result.exit_code == 0, result.output
    assert {r["metadata"]["attribute"] for r in read_jsonl(out)} == {"correctness"} and len(read_jsonl(out)) == 3
    bad = CliRunner().invoke(app, args + ["--option", "attribute"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output
    unknown = CliRunner().invoke(app, args + ["--option", "colour=red"])
    assert unknown.exit_code == 2 and "unknown option 'colour'" in unknown.output
    assert "helpsteer2: attribute" in unknown.output
