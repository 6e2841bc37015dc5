"""FastChat llm_judge and AlpacaEval files: read as our records (rows in, records out, rejected with reasons) and
written in their layouts, with a round trip each way (theirs -> ours -> ours again; ours -> theirs -> ours).

The fixtures in fixtures/fastchat and fixtures/alpaca_eval follow the published layouts (FastChat's
gen_model_answer.py / gen_judgment.py rows, AlpacaEval's model_outputs.json and annotations.json), each with a
broken row the way such files break (an empty `choices`, a line cut off mid-write, a row without its judge or
generator).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatrecipe.data.eval_formats import answer_rows, judgment_rows, write_json_list
from chatrecipe.data.eval_formats import alpaca_eval, fastchat
from chatrecipe.data.records import describe_rejection, load_records, write_records

FIXTURES = Path(__file__).parent / "fixtures"
FASTCHAT = FIXTURES / "fastchat"
ALPACA = FIXTURES / "alpaca_eval"


def reasons(result) -> list[str]:
    return [describe_rejection(r) for r in result.rejected]


def native_round_trip(records: list[dict], kind: str, tmp_path: Path) -> list[dict]:
    """Write our records as chatrecipe JSON Lines and read them back."""
    write_records(tmp_path / f"{kind}.jsonl", records)
    back = load_records(tmp_path / f"{kind}.jsonl", kind)
    assert back.rejected == []
    return back.records


# --- FastChat answers ---


def test_fastchat_answers_in_with_the_broken_row_named():
    result = load_records(FASTCHAT / "model_answer" / "vicuna-7b-v1.3.jsonl", "answer")
    assert len(result.records) == 3 and len(result.rejected) == 1
    assert reasons(result) == [f"{FASTCHAT / 'model_answer' / 'vicuna-7b-v1.3.jsonl'}:3: field 'choices': must be "
                               "a non-empty list of {index, turns}"]
    by_id = {r["question_id"]: r for r in result.records}
    assert by_id[81]["model"] == "vicuna-7b-v1.3" and by_id[81]["turns"] == ["Aloha! Hawaii was a dream.",
                                                                             "A dream it was, Hawaii."]
    assert by_id[81]["answer_id"] == "Zq7dkS6vjG9m3tYj9Lq3rM"
    assert by_id[111]["turns"] == ["The area is 3.", "The circle's area is 5 pi."]  # the first choice is judged
    assert len(by_id[111]["choices"]) == 2  # the second sampled choice is kept, not dropped
    assert by_id[131]["turns"][1] == ""  # an empty answer is data


def test_an_answer_without_its_model_says_which_field(tmp_path):
    # the old message was "missing; add it to the record" with the field name lost on the way to the user
    result = load_records([_write(tmp_path, [{"question_id": 1, "turns": ["hi"]}])], "answer")
    assert reasons(result)[0].endswith("field 'model': missing; add it to the record")


def test_an_answer_without_model_id_is_named_by_its_file_as_fastchat_does(tmp_path):
    # FastChat's load_model_answers names a model by its file less ".jsonl"; the name was cut at the first dot
    path = tmp_path / "vicuna-7b-v1.3.jsonl"
    path.write_text(json.dumps({"question_id": 81, "answer_id": "a", "model_id": None, "tstamp": 1.0,
                                "choices": [{"index": 0, "turns": ["hi"]}]}) + "\n")
    assert [r["model"] for r in load_records(path, "answer").records] == ["vicuna-7b-v1.3"]


def _write(folder: Path, rows: list[dict]) -> Path:
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_fastchat_answers_round_trip_both_ways(tmp_path):
    theirs = load_records(FASTCHAT / "model_answer" / "llama-13b.jsonl", "answer").records
    assert native_round_trip(theirs, "answer", tmp_path) == theirs
    rows = answer_rows(theirs, "fastchat")[0]
    assert [r["answer_id"] for r in rows] == ["Ab3Cd4Ef5Gh6Ij7Kl8Mn9O", "Op1Qr2St3Uv4Wx5Yz6Ab7C",
                                              "De8Fg9Hi1Jk2Lm3No4Pq5R"]
    # ours -> FastChat's layout -> ours: generator settings and our fields ride along under `chatrecipe`
    ours = [{"question_id": 81, "model": "sft", "turns": ["a", "b"], "generator": {"temperature": 0.7},
             "error": None, "category": "writing"}]
    ours = load_records(_write(tmp_path, ours), "answer").records
    written = answer_rows(ours, "fastchat")[0]
    assert set(written[0]) == {"question_id", "answer_id", "model_id", "choices", "tstamp", "chatrecipe"}
    assert written[0]["choices"] == [{"index": 0, "turns": ["a", "b"]}] and written[0]["model_id"] == "sft"
    write_records(tmp_path / "model_answer" / "sft.jsonl", written)
    assert load_records(tmp_path / "model_answer" / "sft.jsonl", "answer").records == ours


# --- FastChat judgments ---


def test_fastchat_single_grades_in():
    result = load_records(FASTCHAT / "model_judgment" / "gpt-4_single.jsonl", "judgment")
    assert len(result.records) == 7 and len(result.rejected) == 1
    assert "gpt-4_single.jsonl:8: malformed JSON" in reasons(result)[0]
    failed = [r for r in result.records if r["error"]]
    assert len(failed) == 1 and failed[0]["score"] is None and failed[0]["turn"] == 2  # -1 is a counted failure
    first = result.records[0]
    assert (first["judge"], first["prompt"], first["score"], first["kind"]) == ("gpt-4", "single-v1", 8, "single")


def test_fastchat_pair_rows_become_one_judgment_per_order():
    result = load_records(FASTCHAT / "model_judgment" / "gpt-4_pair.jsonl", "judgment")
    assert len(result.records) == 12 and len(result.rejected) == 1  # 6 games x 2 orders; a row without its judge
    assert "field 'judge'" in reasons(result)[0]
    q81 = [r for r in result.records if r["question_id"] == 81 and r["turn"] == 2]
    assert [(r["order"], r["winner"]) for r in q81] == [("ab", "model_a"), ("ba", "model_b")]
    error = [r for r in result.records if r["error"]]
    assert len(error) == 1 and error[0]["question_id"] == 131 and error[0]["order"] == "ab"


def test_fastchat_judgments_round_trip_both_ways(tmp_path):
    single = load_records(FASTCHAT / "model_judgment" / "gpt-4_single.jsonl", "judgment").records
    pair = load_records(FASTCHAT / "model_judgment" / "gpt-4_pair.jsonl", "judgment").records
    assert native_round_trip(single + pair, "judgment", tmp_path) == single + pair
    # theirs -> ours -> theirs: FastChat's own fields come back as they were
    original = [json.loads(line) for line in (FASTCHAT / "model_judgment" / "gpt-4_pair.jsonl").read_text()
                .splitlines()[:6]]
    for before, after in zip(original, judgment_rows(pair, "fastchat")):
        assert {k: after[k] for k in before} == before
    # ours -> theirs -> ours, including a verdict judged in one order only and a failed one
    ours = [{"question_id": 1, "kind": "pairwise", "model_a": "sft", "model_b": "base", "order": "ab", "turn": 1,
             "winner": "model_a", "judge": "j", "raw": "[[A]]", "error": None, "prompt": "pairwise",
             "prompt_hash": "abc", "_key": ["pairwise", 1]},
            {"question_id": 1, "kind": "pairwise", "model_a": "sft", "model_b": "base", "order": "ba", "turn": 1,
             "winner": None, "judge": "j", "raw": "??", "error": "unparseable verdict", "prompt": "pairwise"},
            {"question_id": 2, "kind": "pairwise", "model_a": "sft", "model_b": "base", "order": "ab", "turn": 1,
             "winner": "tie", "judge": "j", "raw": "[[C]]", "error": None, "prompt": "pairwise"},
            {"question_id": 2, "kind": "single", "model": "sft", "turn": 1, "score": 7, "judge": "j", "raw": "[[7]]",
             "error": None, "prompt": "single"}]
    ours = load_records(_write(tmp_path, ours), "judgment").records
    rows = judgment_rows(ours, "fastchat")
    single_rows = [r for r in rows if "score" in r]
    pair_rows = [r for r in rows if "g1_winner" in r]
    assert [(r["g1_winner"], r["g2_winner"]) for r in pair_rows] == [("model_1", "error"), ("tie", "error")]
    write_records(tmp_path / "j_pair.jsonl", pair_rows)
    write_records(tmp_path / "j_single.jsonl", single_rows)
    back = load_records([tmp_path / "j_single.jsonl", tmp_path / "j_pair.jsonl"], "judgment").records
    def canonical(records):
        return sorted(json.dumps(r, sort_keys=True) for r in records)

    assert canonical(back) == canonical(ours)


def test_fastchat_battles_count_games_as_show_result():
    rows = [json.loads(line) for line in (FASTCHAT / "model_judgment" / "gpt-4_pair.jsonl").read_text().splitlines()]
    battles = fastchat.battles(rows[:6])
    # game 131 turn 1 has an error: left out; 81 turn 2 disagrees: a tie
    assert [(b["question_id"], b["turn"], b["winner"]) for b in battles] == [
        (81, 1, "model_a"), (81, 2, "tie"), (111, 1, "tie"), (111, 2, "model_b"), (131, 2, "model_b")]
    assert battles[3]["model_a"] == "llama-13b" and battles[0]["judge"] == "gpt-4"


# --- AlpacaEval ---


def test_alpaca_eval_outputs_in_as_answers_and_questions():
    result = load_records(ALPACA / "model_outputs.json", "answer")
    assert len(result.records) == 4 and "field 'generator': missing" in reasons(result)[0]
    assert {r["model"] for r in result.records} == {"my-7b-dpo"}
    assert result.records[0]["question_id"] == alpaca_eval.question_id(result.records[0]["instruction"])
    questions = load_records(ALPACA / "model_outputs.json", "question")
    assert len(questions.records) == 5 and not questions.rejected  # the model is not needed for the question
    assert [q["question_id"] for q in questions.records[:4]] == [a["question_id"] for a in result.records]


def test_alpaca_eval_outputs_round_trip_both_ways(tmp_path):
    theirs = load_records(ALPACA / "model_outputs.json", "answer").records
    assert native_round_trip(theirs, "answer", tmp_path) == theirs
    rows, rejected = answer_rows(theirs, "alpaca_eval")
    assert not rejected
    original = json.loads((ALPACA / "model_outputs.json").read_text())[:4]
    assert [{k: r[k] for k in o} for r, o in zip(rows, original)] == original
    # ours -> model_outputs.json (a JSON list, as AlpacaEval reads it) -> ours
    questions = [{"question_id": 7, "turns": ["Say hi."]}, {"question_id": 8, "turns": ["One?", "Two?"]}]
    ours = load_records(_write(tmp_path, [
        {"question_id": 7, "model": "sft", "turns": ["Hi!"], "generator": {"seed": 0}},
        {"question_id": 8, "model": "sft", "turns": ["1", "2"], "generator": {"seed": 0}}]), "answer").records
    rows, rejected = answer_rows(ours, "alpaca_eval", questions)
    assert len(rows) == 1 and rejected[0]["field"] == "turns" and "one instruction" in rejected[0]["reason"]
    write_json_list(tmp_path / "model_outputs.json", rows)
    assert json.loads((tmp_path / "model_outputs.json").read_text())[0]["instruction"] == "Say hi."
    back = load_records(tmp_path / "model_outputs.json", "answer").records
    assert back == [{**ours[0], "instruction": "Say hi."}]  # the instruction it was written with is added


def test_alpaca_eval_annotations_in_as_judgments_with_soft_preferences(tmp_path):
    result = load_records(ALPACA / "annotations.json", "judgment")
    assert len(result.records) == 5 and not result.rejected
    assert [(r["winner"], r["preference"]) for r in result.records] == [
        ("model_a", 1.9987421), ("model_b", 1.0004187), (None, None), ("tie", 1.5), ("model_b", 1.2346)]
    assert result.records[2]["error"].startswith("no preference")  # a failed annotation is counted, not a tie
    assert {(r["model_a"], r["model_b"], r["judge"], r["order"]) for r in result.records} == {
        ("my-7b-dpo", "gpt4_1106_preview", "weighted_alpaca_eval_gpt4_turbo", None)}
    assert native_round_trip(result.records, "judgment", tmp_path) == result.records
    answers = load_records(ALPACA / "annotations.json", "answer").records  # both sides' texts, for audits
    assert len(answers) == 10 and {a["model"] for a in answers} == {"my-7b-dpo", "gpt4_1106_preview"}


@pytest.mark.parametrize("value, expected", [(2, 2.0), (0, 1.5), (1.25, 1.25), (None, None), (2.5, None),
                                             (float("nan"), None), ("2", None)])
def test_alpaca_eval_preference_values(value, expected):
    got, problem = alpaca_eval.preference(value)
    assert got == expected and (problem is None) == (expected is not None)


def test_export_lays_out_files_beside_the_resumable_records(tmp_path):
    from chatrecipe.data.export import export_answers, export_judgments, working_path

    assert working_path(tmp_path / "model_answer" / "vicuna-7b-v1.3.jsonl", "fastchat") == \
        tmp_path / "model_answer" / ".chatrecipe" / "vicuna-7b-v1.3.jsonl"  # not globbed by FastChat as a model
    assert working_path(tmp_path / "model_outputs.json", "alpaca_eval").name == "model_outputs.jsonl"
    assert working_path(tmp_path / "a.jsonl", "chatrecipe") == tmp_path / "a.jsonl"
    with pytest.raises(ValueError, match="unknown --format"):
        working_path(tmp_path / "a.jsonl", "openai")
    answers = [{"question_id": 7, "model": "sft", "turns": ["Hi!"], "generator": None},
               {"question_id": 8, "model": "sft", "turns": ["1", "2"], "generator": None}]
    questions = [{"question_id": 7, "turns": ["Say hi."]}, {"question_id": 8, "turns": ["One?", "Two?"]}]
    done = export_answers(tmp_path / "model_outputs.json", answers, "alpaca_eval", questions)
    assert (done["written"], done["rejected"]) == (1, 1)
    kept = [json.loads(line) for line in done["rejected_path"].read_text().splitlines()]
    assert kept[0]["record"]["question_id"] == 8 and kept[0]["field"] == "turns"
    assert isinstance(json.loads((tmp_path / "model_outputs.json").read_text()), list)
    done = export_answers(tmp_path / "model_answer" / "sft.jsonl", answers, "fastchat")
    assert done["written"] == 2 and load_records(tmp_path / "model_answer" / "sft.jsonl", "answer").records == \
        load_records(_write(tmp_path, answers), "answer").records
    pair = load_records(FASTCHAT / "model_judgment" / "gpt-4_pair.jsonl", "judgment").records
    assert export_judgments(tmp_path / "gpt-4_pair.jsonl", pair, "fastchat")["written"] == 6
    assert load_records(tmp_path / "gpt-4_pair.jsonl", "judgment").records == pair


def test_an_alpaca_eval_verdict_without_an_order_is_written_as_fastchat_game_one():
    """AlpacaEval publishes no display order: its one verdict is game 1, not two `error` games."""
    from chatrecipe.data.eval_formats.fastchat import pair_rows

    verdict = {"question_id": "q1", "kind": "pairwise", "model_a": "gpt4", "model_b": "mine", "order": None,
               "turn": 1, "winner": "model_a", "judge": "alpaca_eval", "raw": "m", "error": None}
    (row,) = pair_rows([verdict])
    assert (row["g1_winner"], row["g2_winner"]) == ("model_1", "error")


@pytest.mark.parametrize("path, kind, named", [
    (FASTCHAT / "model_answer" / "vicuna-7b-v1.3.jsonl", "judgment", "a FastChat answer (model_answer/<model>.jsonl)"),
    (FASTCHAT / "model_judgment" / "gpt-4_single.jsonl", "battle", "a FastChat single grade"),
    (ALPACA / "model_outputs.json", "judgment", "an AlpacaEval output (model_outputs.json)"),
])
def test_a_foreign_file_given_as_the_wrong_kind_says_what_it_is(path, kind, named):
    # before: "field 'kind': missing; add it to the record" (or 'model_a'), advice that cannot help with this file
    loaded = load_records(path, kind)
    assert loaded.rejected and not loaded.records
    first = describe_rejection(loaded.rejected[0])
    assert named in first and f"not a {kind}:" in first and "add it to the record" not in first


def test_model_outputs_json_gets_the_mode_of_every_other_output(tmp_path):
    # before: written through mkstemp, model_outputs.json stayed 0600 while the JSON Lines beside it were 0644
    listed, lines = tmp_path / "model_outputs.json", tmp_path / "answers.jsonl"
    write_json_list(listed, [{"instruction": "Hi", "output": "Hello", "generator": "m"}])
    write_records(lines, [{"question_id": 1, "model": "m", "turns": ["Hello"]}])
    assert listed.stat().st_mode & 0o777 == lines.stat().st_mode & 0o777
    assert json.loads(listed.read_text()) == [{"instruction": "Hi", "output": "Hello", "generator": "m"}]
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
