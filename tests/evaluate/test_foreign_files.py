"""FastChat and AlpacaEval files through `eval winrate`, `eval elo`, `eval audit` and judging: the figures those
tools print, and no traceback on the files they write (fixtures in tests/data/fixtures, published layouts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatrecipe.cli import app
from chatrecipe.data.records import load_records
from chatrecipe.evaluate.winrate import WinRateError, winrate_table

DATA = Path(__file__).parents[1] / "data" / "fixtures"
FASTCHAT = DATA / "fastchat"
LC_V1 = Path(__file__).parent / "fixtures" / "alpaca_eval" / "lc_v1"
EXPECTED = json.loads((LC_V1 / "expected.json").read_text())
PAIR = FASTCHAT / "model_judgment" / "gpt-4_pair.jsonl"


def cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result


def test_weighted_annotator_counts_match_alpaca_eval():
    # weighted_alpaca_eval_gpt4_turbo preferences are floats in [1, 2]: above 1.5 is a win, as AlpacaEval counts
    table = winrate_table([LC_V1 / "steady" / "annotations.json"], bootstrap=200)
    row = table["pairs"][0]
    expected = EXPECTED["steady"]
    assert (row["wins"], row["ties"], row["losses"]) == (expected["n_wins"], expected["n_draws"],
                                                        expected["n_wins_base"])
    assert 100 * row["value"] == pytest.approx(expected["win_rate"], abs=1e-9)
    assert 100 * row["se"] == pytest.approx(expected["standard_error"], abs=1e-9)
    assert row["excluded_failures"] == 2


def test_no_bootstrap_means_no_interval_not_a_traceback():
    result = cli("eval", "winrate", str(LC_V1 / "steady" / "annotations.json"), "--bootstrap", "0", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ci_low"] is None and out["ci_high"] is None and out["n"] == 38
    text = cli("eval", "winrate", str(LC_V1 / "steady" / "annotations.json"), "--bootstrap", "0")
    assert text.exit_code == 0 and "steady-7b vs gpt4_1106_preview: win rate 54.9%" in text.output


def test_several_annotation_files_give_a_row_per_model(tmp_path):
    files = [str(LC_V1 / m / "annotations.json") for m in ("steady", "gamer")]
    result = cli("eval", "winrate", *files, "--lc", "minimal", "--bootstrap", "100", "--json", "--out",
                 str(tmp_path))
    assert result.exit_code == 0, result.output
    pairs = json.loads(result.output.splitlines()[-1])["pairs"]
    assert [(p["model"], p["baseline"]) for p in pairs] == [("steady-7b", "gpt4_1106_preview"),
                                                            ("gamer-7b", "gpt4_1106_preview")]
    table = (tmp_path / "winrate.md").read_text()
    assert "steady-7b vs gpt4_1106_preview" in table and "gamer-7b vs gpt4_1106_preview" in table
    assert "model vs reference" not in table


def test_an_unknown_model_lists_the_models_in_the_files():
    with pytest.raises(WinRateError) as caught:
        winrate_table([LC_V1 / "steady" / "annotations.json"], "gpt-5")
    assert "steady-7b vs gpt4_1106_preview" in str(caught.value) and "every verdict failed" not in str(caught.value)
    result = cli("eval", "winrate", str(PAIR), "--model", "gpt-5")
    assert result.exit_code == 2 and "llama-13b" in result.output and "vicuna-7b-v1.3" in result.output


def test_fastchat_pairs_give_show_results_counts():
    # show_result.py --mode pairwise-baseline --baseline-model llama-13b on the fixture, by hand: games 81/1 win,
    # 81/2 inconsistent (tie), 111/1 tie, 111/2 win (models listed the other way round), 131/1 error (skipped),
    # 131/2 loss: 2 wins, 1 loss, 2 ties; adjusted win rate (2 + 0.5 * 2) / 5
    result = cli("eval", "winrate", str(PAIR), "--model", "vicuna-7b-v1.3", "--bootstrap", "0", "--json")
    assert result.exit_code == 1  # one row of the file has no judge: said, and the command fails
    assert "gpt-4_pair.jsonl:7: field 'judge'" in result.output
    out = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    assert (out["wins"], out["losses"], out["ties"]) == (2, 1, 2)
    assert out["value"] == pytest.approx(0.6) and out["strict_win_rate"] == pytest.approx(0.4)
    assert out["loss_rate"] == pytest.approx(0.2) and out["excluded_failures"] == 1
    assert out["baseline"] == "llama-13b"


def test_elo_from_fastchat_pairs_and_alpaca_eval_annotations():
    from chatrecipe.data.eval_formats import fastchat
    from chatrecipe.evaluate.elo import battles_from_judgments

    rows = [json.loads(line) for line in PAIR.read_text().splitlines()[:6]]
    direct = fastchat.battles(rows)
    via_records = battles_from_judgments(load_records(PAIR, "judgment").records)
    assert sorted((b["question_id"], b["turn"], b["winner"]) for b in direct) == \
        sorted((b["question_id"], b["turn"], b["winner"]) for b in via_records)
    result = cli("eval", "elo", str(PAIR), "--bootstrap", "20", "--json")
    assert result.exit_code == 1 and "gpt-4_pair.jsonl:7: field 'judge'" in result.output  # the broken row, named
    assert json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))["battles"] == 5
    annotations = [str(LC_V1 / m / "annotations.json") for m in ("steady", "gamer")]
    result = cli("eval", "elo", *annotations, "--bootstrap", "20", "--json")
    assert result.exit_code == 0, result.output
    board = json.loads(result.output)
    assert board["battles"] == 76 and set(board["tie_allowed"]) == {"steady-7b", "gamer-7b", "gpt4_1106_preview"}


def test_audit_reads_fastchat_answers_and_pairs():
    answers = [str(p) for p in sorted((FASTCHAT / "model_answer").glob("*.jsonl"))]
    result = cli("eval", "audit", "--pairwise", str(PAIR), "--answers", answers[0], "--answers", answers[1],
                 "--single", str(FASTCHAT / "model_judgment" / "gpt-4_single.jsonl"), "--json")
    assert "Traceback" not in result.output and "KeyError" not in result.output
    out = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    position = out["position"]
    # 9 decisive verdicts of 12 (2 ties, 1 error): game 1 shows model_1 first, game 2 model_2
    assert position["first_position_share"]["n"] == 9 and position["failures"] == 1
    assert position["swap_consistency"]["n"] == 5 and position["swap_consistency"]["value"] == pytest.approx(0.8)
    assert out["figures"]["longer answer wins"]["n"] > 0
    assert out["figures"]["grades agree with verdicts"]["n"] > 0
    assert result.exit_code == 1  # the broken rows were left out: said, and the command fails
    assert "vicuna-7b-v1.3.jsonl:3: field 'choices'" in result.output  # the broken rows are listed


def test_fastchat_answers_judged_and_written_back_in_fastchat_layout(tmp_path):
    from chatrecipe.backends.base import ScriptedBackend
    from chatrecipe.data.eval_formats import fastchat, judgment_rows
    from chatrecipe.judge.pairwise import judge_pairwise

    questions = load_records(FASTCHAT / "question.jsonl", "question").records
    vicuna = load_records(FASTCHAT / "model_answer" / "vicuna-7b-v1.3.jsonl", "answer").records
    llama = load_records(FASTCHAT / "model_answer" / "llama-13b.jsonl", "answer").records
    records = judge_pairwise(ScriptedBackend(lambda messages: "[[A]]", "judge"), questions, vicuna, llama,
                             tmp_path / "pair.jsonl")
    assert len(records) == 12  # 3 questions x 2 turns x 2 orders
    rows = judgment_rows(records, "fastchat")
    assert len(rows) == 6 and {(r["g1_winner"], r["g2_winner"]) for r in rows} == {("model_1", "model_2")}
    assert all(b["winner"] == "tie" for b in fastchat.battles(rows))  # a pure position bias is a tie


def test_generate_and_judge_write_fastchat_and_alpaca_eval_layouts(tmp_path, tiny_model_path):
    questions = str(FASTCHAT / "question.jsonl")
    answer_file = tmp_path / "model_answer" / "tiny.jsonl"
    made = cli("generate", "--model", str(tiny_model_path), "--name", "tiny", "--questions", questions, "-o",
               str(answer_file), "--max-new-tokens", "4", "--format", "fastchat")
    assert made.exit_code == 0, made.output
    rows = [json.loads(line) for line in answer_file.read_text().splitlines()]
    assert len(rows) == 3 and {"question_id", "answer_id", "model_id", "choices", "tstamp"} <= set(rows[0])
    assert rows[0]["model_id"] == "tiny" and len(rows[0]["choices"][0]["turns"]) == 2
    assert sorted(p.name for p in answer_file.parent.glob("*.jsonl")) == ["tiny.jsonl"]  # FastChat sees one model
    judged = tmp_path / "model_judgment" / "tiny_pair.jsonl"
    result = cli("judge", "pairwise", "--judge", str(tiny_model_path), "--questions", questions, "--answers-a",
                 str(answer_file), "--answers-b", str(FASTCHAT / "model_answer" / "llama-13b.jsonl"), "-o",
                 str(judged), "--max-new-tokens", "4", "--format", "fastchat")
    assert result.exit_code == 0, result.output
    pairs = [json.loads(line) for line in judged.read_text().splitlines()]
    assert len(pairs) == 6 and {(p["model_1"], p["model_2"]) for p in pairs} == {("tiny", "llama-13b")}
    assert all(p["g1_winner"] in ("model_1", "model_2", "tie", "error") for p in pairs)
    assert len(load_records(judged, "judgment").records) == 12  # read back: both orders of six games
    # AlpacaEval: its evaluation set is a question file, and model_outputs.json a JSON list
    outputs = tmp_path / "model_outputs.json"
    made = cli("generate", "--model", str(tiny_model_path), "--name", "tiny", "--questions",
               str(DATA / "alpaca_eval" / "model_outputs.json"), "-o", str(outputs), "--max-new-tokens", "4",
               "--format", "alpaca_eval")
    assert made.exit_code == 0, made.output
    written = json.loads(outputs.read_text())
    assert len(written) == 5 and {r["generator"] for r in written} == {"tiny"}
    assert written[0]["instruction"].startswith("What are the names of some famous actors")


def test_style_control_reads_fastchat_answer_files():
    # before: the answers were read as raw rows, so a FastChat row (model_id, choices) named no model and every
    # battle ended in "no answer of vicuna-7b-v1.3 to question 81"
    answers = sorted((FASTCHAT / "model_answer").glob("*.jsonl"))
    result = cli("eval", "elo", str(PAIR), "--style-control", "--bootstrap", "0", "--json",
                 *[arg for path in answers for arg in ("--answers", str(path))])
    assert "no answer of" not in result.output and "Traceback" not in result.output
    styled = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))["style_control"]
    assert set(styled["style_controlled"]) == {"vicuna-7b-v1.3", "llama-13b"} and styled["excluded"] == []
    assert styled["battles"] == 5  # the rows of the file that give a battle (show_result.py counts the same)
