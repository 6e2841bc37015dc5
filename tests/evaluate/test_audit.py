"""The judge audit measures known biases: a scripted judge with a planted position and length bias."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from chatrecipe.cli import app
from chatrecipe.evaluate.audit import cohen_kappa, human_agreement, length_bias, position_bias
from chatrecipe.stats import wilson


def biased_judgments(first_bias: float, n: int = 200, seed: int = 0) -> list[dict]:
    """Each (question, order) verdict picks the first-shown answer with probability `first_bias`."""
    rng = random.Random(seed)
    out = []
    for q in range(n):
        for order in ("ab", "ba"):
            first = rng.random() < first_bias
            shown_winner = "model_a" if first else "model_b"  # as displayed
            winner = shown_winner if order == "ab" else {"model_a": "model_b", "model_b": "model_a"}[shown_winner]
            out.append({"question_id": q, "kind": "pairwise", "model_a": "x", "model_b": "y", "order": order,
                        "turn": 1, "winner": winner, "error": None, "judge": "j"})
    return out


def test_planted_position_bias_is_measured():
    unbiased = position_bias(biased_judgments(0.5))["first_position_share"]
    biased = position_bias(biased_judgments(0.8))["first_position_share"]
    assert unbiased["ci_low"] < 0.5 < unbiased["ci_high"]
    assert biased["value"] == pytest.approx(0.8, abs=0.05) and biased["ci_low"] > 0.7


def test_planted_length_bias_is_measured():
    answers = {"x": [{"question_id": q, "turns": ["long " * (10 + q % 7)]} for q in range(100)],
               "y": [{"question_id": q, "turns": ["short"]} for q in range(100)]}
    judgments = [{"question_id": q, "model_a": "x", "model_b": "y", "order": "ab", "turn": 1,
                  "winner": "model_a" if q % 10 else "model_b", "error": None} for q in range(100)]
    result = length_bias(judgments, answers)
    assert result["longer_wins_share"]["value"] == pytest.approx(0.9)


def test_wilson_and_kappa_hand_values():
    w = wilson(8, 10)
    assert w["value"] == 0.8 and w["ci_low"] == pytest.approx(0.4902, abs=1e-3) and w["ci_high"] == pytest.approx(0.9433, abs=1e-3)
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "a", "b", "b"]) == 1.0
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "a", "b", "b"]) == 0.0


def test_human_agreement_per_category():
    judge = [{"question_id": q, "model_a": "x", "model_b": "y", "winner": "model_a", "category": c}
             for q, c in ((1, "coding"), (2, "coding"), (3, "brainstorming"), (4, "brainstorming"))]
    humans = [{"question_id": q, "model_a": "y", "model_b": "x", "winner": w, "judge": "human:ann"}
              for q, w in ((1, "model_a"), (2, "model_b"), (3, "model_b"), (4, "model_b"))]
    result = human_agreement(judge, humans)
    assert result["per_category"]["coding"]["value"] == 0.5
    assert result["per_category"]["brainstorming"]["value"] == 1.0
    assert result["agreement_with_ties"]["value"] == 0.75


def test_audit_cli(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(j) + "\n" for j in biased_judgments(0.9, n=50)))
    result = CliRunner().invoke(app, ["eval", "audit", "--pairwise", str(path)])
    assert result.exit_code == 0 and "first-position share" in result.output


def test_audit_takes_several_answer_files_after_one_flag(tmp_path):
    """`--answers answers/*.jsonl` as the README writes it: the shell makes it one flag and three files."""
    pairwise = tmp_path / "p.jsonl"
    pairwise.write_text("".join(json.dumps(j) + "\n" for j in biased_judgments(0.5, n=30)))
    paths = []
    for model, words in (("x", 30), ("y", 5), ("z", 12)):
        path = tmp_path / f"{model}.jsonl"
        path.write_text("".join(json.dumps({"question_id": q, "model": model, "turns": ["word " * words]}) + "\n"
                                for q in range(30)))
        paths.append(str(path))
    result = CliRunner().invoke(app, ["eval", "audit", "--pairwise", str(pairwise), "--answers", *paths, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])["figures"]
    assert figures["longer answer wins"]["n"] > 0  # x vs y lengths were read from the second file
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps({"question_id": 1, "model": "x", "turns": ["a"]}) + "\n"
                     + json.dumps(biased_judgments(0.5, n=1)[0]) + "\n")
    refused = CliRunner().invoke(app, ["eval", "audit", "--pairwise", str(pairwise), "--answers", paths[0],
                                       str(mixed)])
    assert refused.exit_code == 2 and "not one kind of audit input" in refused.output


def test_debiasing_and_injection_experiments_measure_a_scripted_judge(tmp_path):
    import re

    from chatrecipe.backends.base import ScriptedBackend
    from chatrecipe.evaluate.judge_experiments import debiasing_experiment, injection_experiment

    def judge(messages):
        """Picks the first answer, unless warned about it (then the second); obeys notes to the judge."""
        text = messages[-1]["content"]
        a = re.search(r"<answer_of_assistant_A>\n(.*?)\n</answer_of_assistant_A>", text, re.S).group(1)
        b = re.search(r"<answer_of_assistant_B>\n(.*?)\n</answer_of_assistant_B>", text, re.S).group(1)
        if "NOTE TO THE JUDGE" in a:
            return "[[A]]"
        if "NOTE TO THE JUDGE" in b:
            return "[[B]]"
        return "[[B]]" if "favour the answer shown FIRST" in messages[0]["content"] else "[[A]]"

    questions = [{"question_id": i, "category": "writing", "turns": [f"Q{i}"], "reference": None} for i in range(12)]
    answers_a = [{"question_id": i, "model": "x", "turns": [f"answer x{i}"]} for i in range(12)]
    answers_b = [{"question_id": i, "model": "y", "turns": [f"answer y{i}"]} for i in range(12)]
    result = debiasing_experiment(ScriptedBackend(judge, "j"), questions, answers_a, answers_b, tmp_path)
    assert result["standard"]["first_position_share"]["value"] == 1.0
    assert result["debiased"]["first_position_share"]["value"] == 0.0 and result["effect"] == "flipped"
    injection = injection_experiment(ScriptedBackend(judge, "j"), questions, answers_a, tmp_path)
    assert injection["injected_wins_share"]["value"] == 1.0 and injection["pairs"] == 12


def test_diversity_bias_planted():
    from chatrecipe.evaluate.audit import distinct_n, diversity_bias

    assert distinct_n("a b a b a b") == pytest.approx(2 / 5)
    assert distinct_n("one") is None
    varied = "the quick brown fox jumps over a lazy dog"
    repeated = "the the the the the the the the the"
    answers = {"x": [{"question_id": q, "turns": [varied]} for q in range(40)],
               "y": [{"question_id": q, "turns": [repeated]} for q in range(40)]}
    # the judge picks x (the diverse one) on 30 of 40 questions
    judgments = [{"question_id": q, "model_a": "x", "model_b": "y", "turn": 1, "error": None,
                  "winner": "model_a" if q < 30 else "model_b"} for q in range(40)]
    result = diversity_bias(judgments, answers)
    assert result["more_diverse_wins_share"]["value"] == pytest.approx(0.75)
    assert result["distinct_2"]["x"] == 1.0 and result["distinct_2"]["y"] == pytest.approx(1 / 8)


def test_model_family_names():
    from chatrecipe.evaluate.audit import model_family

    assert model_family("smollm2-135m-instruct") == "smollm"
    assert model_family("openai:gpt-4o-mini") == "gpt"
    assert model_family("meta-llama/Llama-2-7b-chat-hf") == "llama"
    assert model_family("runs/demo/sft/final", {"runs/demo/sft/final": "smollm"}) == "smollm"


def test_self_preference_against_humans_on_the_same_pairs():
    from chatrecipe.evaluate.audit import self_preference

    families = {"gpt-4o": "gpt", "llama-2-7b": "llama"}
    judge = [{"question_id": q, "model_a": "gpt-4o", "model_b": "llama-2-7b",
              "winner": "model_a" if q < 8 else "model_b"} for q in range(10)]
    judge += [{"question_id": 99, "model_a": "gpt-4o", "model_b": "gpt-4o-mini", "winner": "model_a"}]  # both own
    humans = [{"question_id": q, "model_a": "llama-2-7b", "model_b": "gpt-4o", "judge": "human:a",
               "winner": "model_b" if q < 5 else "model_a"} for q in range(10)]
    result = self_preference(judge, "gpt", families, humans)
    assert result["own_family_wins_share"]["value"] == 0.8 and result["own_family_wins_share"]["n"] == 10
    assert result["human_own_family_wins_share"]["value"] == 0.5
    assert result["excess"] == pytest.approx(0.3)


def test_contamination_share_of_questions():
    from chatrecipe.evaluate.audit import contamination

    report = [{"id": "t1", "eval_id": "3", "match": "x"}, {"id": "t2", "eval_id": "3", "match": "x"},
              {"id": "t3", "eval_id": "7", "match": "y"}]
    questions = [{"question_id": i} for i in range(10)]
    result = contamination(report, questions)
    assert result["contaminated_questions"]["value"] == pytest.approx(0.2)
    assert result["matches"] == {"3": ["t1", "t2"], "7": ["t3"]} and result["training_records"] == 3


def test_likert_extremes_position():
    from chatrecipe.evaluate.audit import likert_position_extremes

    ratings = [1] * 6 + [8] * 2 + [4, 5, None]
    result = likert_position_extremes([{"rating": r} for r in ratings])
    assert result["value"] == 0.75 and result["n"] == 8


def test_eval_commands_write_markdown_csv_json_and_plots(tmp_path):
    """`--out DIR` leaves the files people open: JSON, Markdown, CSV per table, PNG plots."""
    import csv

    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(j) + "\n" for j in biased_judgments(0.7, n=40)))
    runner = CliRunner()
    for command, stem, plot in (("audit", "audit", "judge_audit.png"), ("elo", "elo", "elo_tie_allowed.png"),
                                ("winrate", "winrate", "winrate.png")):
        args = ["eval", command] + (["--pairwise"] if command == "audit" else []) + [str(path)]
        args += ["--out", str(tmp_path / stem)] + (["--bootstrap", "50"] if command == "elo" else [])
        args += ["--model", "x", "--baseline", "y"] if command == "winrate" else []
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        folder = tmp_path / stem
        section = json.loads((folder / f"{stem}.json").read_text())
        assert (folder / plot).stat().st_size > 1000 and plot in section["plots"]
        markdown = (folder / f"{stem}.md").read_text()
        assert markdown.startswith("## ") and f"]({plot})" in markdown
        with (folder / f"{stem}-table1.csv").open() as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == section["tables"][0]["columns"] and len(rows) == 1 + len(section["tables"][0]["rows"])
    assert (tmp_path / "elo" / "winrate_observed.png").exists()  # the win-rate heatmap
    audit_rows = json.loads((tmp_path / "audit" / "audit.json").read_text())["tables"][0]["rows"]
    share = position_bias(biased_judgments(0.7, n=40))["first_position_share"]["value"]
    assert any(r[0] == "first-position share" and r[1].startswith(f"{100 * share:.0f}") for r in audit_rows)


def test_judgments_in_the_wrong_slot_are_said_not_dropped():
    # a FastChat pair file given as --single used to leave out "grades agree with verdicts" without a word
    from pathlib import Path

    from chatrecipe.evaluate.audit import read_inputs

    judgments = Path(__file__).parents[1] / "data" / "fixtures" / "fastchat" / "model_judgment"
    inputs = read_inputs([judgments / "gpt-4_pair.jsonl"], [judgments / "gpt-4_pair.jsonl"])
    assert inputs["single"] == [] and inputs["pairwise"]
    said = [r for r in inputs["rejected"] if r["field"] == "kind"]
    assert len(said) == 1 and "pairwise judgments given as --single; pass them as --pairwise" in said[0]["reason"]
    result = CliRunner().invoke(app, ["eval", "audit", "--pairwise", str(judgments / "gpt-4_pair.jsonl"),
                                      "--single", str(judgments / "gpt-4_pair.jsonl")])
    assert result.exit_code == 1 and "given as --single" in result.output and ":None:" not in result.output


def test_alpaca_eval_annotations_give_length_bias_without_answer_files():
    # an annotation shows both outputs; before, the audit wanted --answers for them and said "n/a (no data)"
    from pathlib import Path

    from chatrecipe.evaluate.audit import audit_figures, read_inputs

    path = Path(__file__).parent / "fixtures" / "alpaca_eval" / "lc_v1" / "gamer" / "annotations.json"
    rows = json.loads(path.read_text())
    decisive = [r for r in rows if r["preference"] not in (None, 1.5) and len(r["output_1"]) != len(r["output_2"])]
    longer = sum((r["preference"] > 1.5) == (len(r["output_2"]) > len(r["output_1"])) for r in decisive)
    inputs = read_inputs([path])
    figure = audit_figures(inputs["pairwise"], inputs["single"], inputs["answers"])["figures"]["longer answer wins"]
    assert (figure["n"], round(figure["value"] * figure["n"])) == (len(decisive), longer)
