"""Style-controlled Bradley-Terry: it recovers known skills from battles a length-loving judge decided, it is
FastChat's objective (checked against an independent logistic regression and FastChat's own output), and it says
clearly which battles have no usable style features."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from chatrecipe.evaluate.elo import battles_from_judgments
from chatrecipe.evaluate.style_control import ELO_PER_LOGIT, style_control, style_features
from chatrecipe.evaluate.style_features import (StyleFeatureError, conversation_metadata, markdown_counts,
                                                style_counts, token_counter)

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = ["verbose-weak", "verbose-strong", "mid", "terse-strong", "terse-weak", "plain"]
SKILL = np.array([-60.0, 60.0, 0.0, 80.0, -50.0, -30.0])  # Elo
LENGTH = np.array([1200.0, 900.0, 450.0, 160.0, 200.0, 400.0])  # typical answer tokens
LENGTH_EFFECT = 0.6  # logit per standard deviation of relative length: the simulated judge's taste


def simulate(n: int, seed: int) -> list[dict]:
    """Battles whose verdicts follow the skills plus a preference for the longer answer; ties more likely between
    close answers, drawn so that model_a's expected score is exactly the model's win probability."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, n)
    b = (a + rng.integers(1, 6, n)) % 6
    ta = rng.poisson(LENGTH[a] * rng.lognormal(0, 0.3, n))
    tb = rng.poisson(LENGTH[b] * rng.lognormal(0, 0.3, n))
    diff = (ta - tb) / (ta + tb + 1.0)
    logit = math.log(10) / 400 * (SKILL[a] - SKILL[b]) + LENGTH_EFFECT * (diff - diff.mean()) / diff.std()
    p = 1 / (1 + np.exp(-logit))
    tie, u = 0.4 * p * (1 - p), rng.random(n)
    winner = np.where(u < p - tie / 2, "model_a", np.where(u < p + tie / 2, "tie", "model_b"))
    marks = rng.poisson(1.5, (4, n))  # markdown the judge ignores
    return [{"model_a": MODELS[i], "model_b": MODELS[j], "winner": str(w), "conv_metadata": {
        "sum_assistant_a_tokens": int(x), "sum_assistant_b_tokens": int(y),
        "header_count_a": {"h1": int(marks[0, k]), "h2": 0}, "header_count_b": {"h1": int(marks[1, k]), "h2": 0},
        "list_count_a": {"ordered": int(marks[2, k]), "unordered": 0},
        "list_count_b": {"ordered": int(marks[3, k]), "unordered": 0},
        "bold_count_a": int(marks[0, k] % 3), "bold_count_b": int(marks[3, k] % 2)}}
        for k, (i, j, w, x, y) in enumerate(zip(a, b, winner, ta, tb))]


def test_style_control_recovers_the_skills_where_the_plain_fit_is_biased():
    result = style_control(simulate(30_000, seed=0), bootstrap=100, seed=0)
    truth = dict(zip(MODELS, 1000 + SKILL - SKILL.mean()))
    styled, plain = result["style_controlled"], result["plain"]
    for model in MODELS:
        assert styled[model]["ci_low"] <= truth[model] <= styled[model]["ci_high"], (model, styled[model])
    # the plain fit credits length as skill: the verbose models are rated too high, the terse ones too low
    assert plain["verbose-weak"]["ci_low"] > truth["verbose-weak"] + 50
    assert plain["terse-strong"]["ci_high"] < truth["terse-strong"] - 50
    assert sum(not (plain[m]["ci_low"] <= truth[m] <= plain[m]["ci_high"]) for m in MODELS) >= 4
    style_error = np.mean([abs(styled[m]["value"] - truth[m]) for m in MODELS])
    plain_error = np.mean([abs(plain[m]["value"] - truth[m]) for m in MODELS])
    assert style_error < 0.2 * plain_error
    length = result["coefficients"][0]
    assert length["ci_low"] <= LENGTH_EFFECT * ELO_PER_LOGIT <= length["ci_high"]
    assert length["text"].startswith("+1 standard deviation of relative length") and "Elo" in length["text"]
    # terse-strong is the best model once length is accounted for, and the plain ranking says otherwise
    assert result["ranks"]["terse-strong"]["style"] == 1 and "terse-strong" in result["rank_changes"]
    assert result["bootstrap"]["rounds"] == 100 and "with replacement" in result["bootstrap"]["method"]


def _reference_fit(battles: list[dict], reg: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    """FastChat's published algorithm written out plainly: counts summed from the metadata, (a - b) / (a + b + 1),
    standardised with the population deviation, then an L2 logistic regression (sklearn) with a tie as two
    half-weighted rows; sklearn's C is 1 / reg for FastChat's loss + (reg / 2) * ||params||^2."""
    from sklearn.linear_model import LogisticRegression

    def count(value):
        return sum(value.values()) if isinstance(value, dict) else value

    keys = [("sum_assistant_a_tokens", "sum_assistant_b_tokens")] + [
        (f"{name}_a", f"{name}_b") for name in ("header_count", "list_count", "bold_count")]
    diff = np.array([[(count(b["conv_metadata"][ka]) - count(b["conv_metadata"][kb]))
                      / (count(b["conv_metadata"][ka]) + count(b["conv_metadata"][kb]) + 1) for ka, kb in keys]
                     for b in battles])
    features = (diff - diff.mean(axis=0)) / diff.std(axis=0)
    models = sorted({b["model_a"] for b in battles} | {b["model_b"] for b in battles})
    rows, labels, weights = [], [], []
    for battle, f in zip(battles, features):
        x = np.zeros(len(models))
        x[models.index(battle["model_a"])], x[models.index(battle["model_b"])] = math.log(10), -math.log(10)
        outcomes = {"model_a": [(1, 1.0)], "model_b": [(0, 1.0)]}.get(battle["winner"], [(1, 0.5), (0, 0.5)])
        for label, weight in outcomes:
            rows.append(np.concatenate([x, f]))
            labels.append(label)
            weights.append(weight)
    fit = LogisticRegression(C=1 / reg, fit_intercept=False, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    fit.fit(np.array(rows), labels, sample_weight=weights)
    return models, fit.coef_[0][:len(models)], fit.coef_[0][len(models):]


def test_same_optimum_as_fastchats_objective_and_output():
    fixture = json.loads((FIXTURES / "style_control_fastchat.json").read_text())
    battles = fixture["battles"]
    result = style_control(battles, bootstrap=0)
    models, ratings, coefficients = _reference_fit(battles, reg=0.5)
    assert result["models"] == models
    reference = 400 * ratings + 1000 - (400 * ratings).mean()
    for model, value in zip(models, reference):
        assert result["style_controlled"][model]["value"] == pytest.approx(value, abs=1e-6 * 400)
    assert [c["logit"] for c in result["coefficients"]] == pytest.approx(coefficients, abs=1e-6)
    counts, _, _ = style_counts(battles)
    features, info = style_features(counts)
    assert features[:3] == pytest.approx(np.array(fixture["features_first_rows"]), abs=1e-12)
    # FastChat's own compute_style_control on these battles (L-BFGS-B, which stops a little short of the optimum)
    for model, value in fixture["ratings"].items():
        assert result["style_controlled"][model]["value"] == pytest.approx(value, abs=0.01)
    assert [c["logit"] for c in result["coefficients"]] == pytest.approx(fixture["params"], abs=2e-5)
    assert all(v["ci_low"] is None for v in result["style_controlled"].values())
    assert result["bootstrap"]["method"] is None


def test_missing_or_bad_metadata_is_named_not_dropped():
    battles = simulate(200, seed=1)
    battles[3] = {"model_a": "mid", "model_b": "plain", "winner": "tie", "question_id": 81}
    battles[5]["conv_metadata"]["header_count_b"] = "three"
    battles[7]["conv_metadata"]["sum_assistant_a_tokens"] = -4
    battles[8]["conv_metadata"]["list_count_a"] = {"ordered": True}
    del battles[9]["conv_metadata"]["bold_count_b"]
    battles[11]["conv_metadata"] = ["not", "an", "object"]
    with pytest.raises(StyleFeatureError) as caught:
        style_control(battles, bootstrap=0)
    message = str(caught.value)
    assert message.startswith("6 of 200 battles have no style features")
    assert "battle 4 (question 81), mid vs plain: no conv_metadata, no conversation_a/conversation_b" in message
    assert "battle 6" in message and "header_count_b is 'three'" in message
    assert "sum_assistant_a_tokens is -4" in message and "battle 9" in message and "list_count_a" in message
    assert "bold_count_b is missing" in message and "conv_metadata is list, not an object" in message
    result = style_control(battles, bootstrap=0, skip_missing=True)
    assert result["battles"] == 194 and [e["battle"] for e in result["excluded"]] == [4, 6, 8, 9, 10, 12]


def test_markdown_is_counted_as_fastchat_counts_it():
    text = ("# Title\n## Part\n### Sub\n#no-space is no header\n1. one\n2. two\n- dash\n  * star\n+ plus\n"
            "**bold** and __also bold__ but **not\nbold**\n```\n# not a header\n- not a list\n**not bold**\n```\n"
            "After the code **bold again**.")
    assert markdown_counts(text) == {"header_count": {"h1": 1, "h2": 1, "h3": 1, "h4": 0, "h5": 0, "h6": 0},
                                     "list_count": {"ordered": 2, "unordered": 3},
                                     "bold_count": {"**": 2, "__": 1}}
    conversation_a = [{"role": "user", "content": "# question"}, {"role": "assistant", "content": "Hi, you."},
                      {"role": "user", "content": "more"}, {"role": "assistant", "content": "- a\n- b"}]
    meta = conversation_metadata(conversation_a, [{"role": "assistant", "content": "**Yes**"}])
    assert meta["sum_assistant_a_tokens"] == 4 + 4  # "Hi , you ." then "- a - b"
    assert meta["header_count_a"]["h1"] == 0 and meta["list_count_a"]["unordered"] == 2
    assert meta["sum_assistant_b_tokens"] == 5 and meta["bold_count_b"]["**"] == 1


def test_named_tokenizer_counts_tokens(tmp_path):
    from tests.conftest import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(tmp_path / "tok")
    count = token_counter(str(tmp_path / "tok"))
    text = "The answer is forty-two, because it is."
    assert count(text) == len(tokenizer.encode(text, add_special_tokens=False)) > 0
    with pytest.raises(StyleFeatureError, match="tokenizer .*could not be loaded"):
        token_counter(str(tmp_path / "missing"))


def _judgments_and_answers(n_questions: int = 40):
    """chatrecipe pairwise judgments (both orders) and answer files, where the judge picks the longer answer."""
    rng = np.random.default_rng(3)
    answers = {"long": [], "short": [], "list": []}
    texts = {}
    for q in range(n_questions):
        for model in answers:
            words = int(rng.integers(5, 60)) * (3 if model == "long" else 1)
            text = " ".join(["word"] * words)
            if model == "list":
                text = "\n".join(f"- item {i}" for i in range(words // 4 + 1))
            answers[model].append({"question_id": q, "model": model, "turns": [text]})
            texts[(model, q)] = text
    judgments = []
    for q in range(n_questions):
        for a, b in (("long", "short"), ("short", "list"), ("long", "list")):
            winner = "model_a" if len(texts[(a, q)]) >= len(texts[(b, q)]) else "model_b"
            for order in ("ab", "ba"):
                judgments.append({"question_id": q, "kind": "pairwise", "model_a": a, "model_b": b, "order": order,
                                  "turn": 1, "winner": winner, "error": None, "judge": "j"})
    return judgments, answers, texts


def test_battles_from_chatrecipe_judgments_take_style_from_the_answer_files():
    judgments, answers, texts = _judgments_and_answers()
    battles = battles_from_judgments(judgments)
    counts, keep, excluded = style_counts(battles, answers=answers)
    assert keep.all() and not excluded
    first = battles[0]
    assert counts[0, 0, 0] == len(texts[(first["model_a"], first["question_id"])].split())
    result = style_control(battles, answers=answers, bootstrap=20)
    assert result["coefficients"][0]["elo"] > 100  # this judge rewards length and nothing else
    del answers["list"][5]
    with pytest.raises(StyleFeatureError, match="no answer of list to question 5 \\(turn 1\\) in the answer files"):
        style_control(battles, answers=answers, bootstrap=0)


def test_human_battles_from_the_annotation_export(tmp_path):
    from chatrecipe.annotate.export import export
    from chatrecipe.annotate.projects import add_annotator, create_project
    from chatrecipe.annotate.store import Assignment, Item, Submission, make_engine, make_sessionmaker

    prompts = tmp_path / "p.jsonl"
    rows = []
    for i in range(30):
        long_answer = f"## Answer {i}\n" + "\n".join(f"- point {k}: **detail**" for k in range(1 + i % 4))
        rows.append({"id": f"q{i}", "prompt": f"Question {i}?", "response_a": long_answer if i % 3 else "Short.",
                     "response_b": f"Plain answer {i}." if i % 3 else long_answer, "category": "generation",
                     "model_a": ["x", "y", "z"][i % 3], "model_b": ["y", "z", "x"][i % 3]})
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with make_sessionmaker(make_engine(str(tmp_path / "a.db")))() as session:
        add_annotator(session, "ana")
        add_annotator(session, "bob")
        create_project(session, "pairs", "pairwise", prompts, scale="llama2-4", overlap=2, seed=1)
        session.commit()
        for n, assignment in enumerate(session.query(Assignment).order_by(Assignment.id).all()):
            item = session.get(Item, assignment.item_id)
            longer = "a" if len(item.response_a) > len(item.response_b) else "b"
            choice = longer if n % 7 else {"a": "b", "b": "a"}[longer]  # mostly the longer one
            session.add(Submission(uid=f"s{n}", assignment_id=assignment.id, choice=choice, chose_left=True,
                                   rating=2 if choice == "a" else 7))
        session.commit()
        battles, rejected = export(session, "battle")
    assert len(battles) == 60 and not rejected
    assert battles[0]["conversation_a"][-1]["role"] == "assistant" and battles[0]["judge"].startswith("human:")
    result = style_control(battles, bootstrap=20)
    assert result["battles"] == 60 and set(result["models"]) == {"x", "y", "z"}
    assert result["coefficients"][0]["elo"] > 0  # these annotators favour the longer, formatted answer
    assert set(result["plain"]) == set(result["style_controlled"]) == {"x", "y", "z"}


def test_a_feature_that_never_varies_is_marked_not_fitted():
    battles = simulate(500, seed=2)
    for battle in battles:
        battle["conv_metadata"]["bold_count_a"] = battle["conv_metadata"]["bold_count_b"] = 0
    result = style_control(battles, bootstrap=10)
    bold = result["coefficients"][3]
    assert bold["constant"] and bold["elo"] is None and "cannot be estimated" in bold["text"]
    assert result["coefficients"][0]["elo"] > 0


def test_one_model_or_disconnected_battles_are_refused_clearly():
    from chatrecipe.evaluate.battles import BattleError

    battles = simulate(50, seed=3)
    one = [dict(b, model_b=b["model_a"]) for b in battles if b["model_a"] == "mid"]
    with pytest.raises(BattleError, match="only \\['mid'\\]"):
        style_control(one, bootstrap=0)
    split = [b for b in battles if {b["model_a"], b["model_b"]} <= {"mid", "plain"}
             or {b["model_a"], b["model_b"]} <= {"terse-weak", "verbose-weak"}]
    with pytest.raises(BattleError, match="disconnected"):
        style_control(split, bootstrap=0)


def test_eval_elo_style_control_command(tmp_path):
    """`eval elo --style-control`: both leaderboards printed and written; battles without style stop the command
    with their names, or with --skip-missing-style are left out and listed."""
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    battles = simulate(2000, seed=4)
    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in battles))
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "elo", str(path), "--style-control", "--bootstrap", "20",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "-- Plain vs style-controlled ratings, tie allowed (20 bootstrap rounds)" in result.stdout
    assert "+1 standard deviation of relative length" in result.stdout and "rank changed" in result.stdout
    written = json.loads((tmp_path / "out" / "elo.json").read_text())
    assert [t["title"] for t in written["tables"]][2:] == [
        "Plain vs style-controlled ratings, tie allowed (20 bootstrap rounds)",
        "Style coefficients: what one standard deviation of relative style is worth"]
    assert (tmp_path / "out" / "elo_style_controlled.png").stat().st_size > 0
    as_json = json.loads(runner.invoke(app, ["eval", "elo", str(path), "--style-control", "--bootstrap", "0",
                                             "--json"]).stdout)
    assert as_json["style_control"]["coefficients"][0]["ci_low"] is None
    del battles[7]["conv_metadata"]
    path.write_text("".join(json.dumps(b) + "\n" for b in battles))
    result = runner.invoke(app, ["eval", "elo", str(path), "--style-control", "--bootstrap", "0"])
    assert result.exit_code == 2 and "1 of 2000 battles have no style features: battle 8" in result.stderr
    result = runner.invoke(app, ["eval", "elo", str(path), "--style-control", "--bootstrap", "0",
                                 "--skip-missing-style"])
    assert result.exit_code == 0 and "1 battle(s) had no style features" in result.stderr


def test_eval_elo_reads_fastchat_answer_files_after_one_answers_flag(tmp_path):
    """`eval elo JUDGMENTS --style-control --answers answers/*.jsonl`, as `eval audit` suggests: the shell hands the
    files after the first one over as arguments, and FastChat's model_answer files name the model `model_id`;
    both must give the answers' style, not 'no answer of ... in the answer files'."""
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    judgments, answers, _ = _judgments_and_answers()
    judged = tmp_path / "judgments.jsonl"
    judged.write_text("".join(json.dumps(j) + "\n" for j in judgments))
    files = []
    for model, records in answers.items():  # FastChat's llm_judge layout: model_id and choices[0].turns
        path = tmp_path / f"{model}.jsonl"
        path.write_text("".join(json.dumps({"question_id": r["question_id"], "model_id": model, "answer_id": "x",
                                            "choices": [{"index": 0, "turns": r["turns"]}], "tstamp": 0}) + "\n"
                                for r in records))
        files.append(str(path))
    runner = CliRunner()
    repeated = [arg for f in files for arg in ("--answers", f)]
    for answer_args in (repeated, ["--answers", *files]):
        result = runner.invoke(app, ["eval", "elo", str(judged), "--style-control", "--bootstrap", "0", "--json",
                                     *answer_args])
        assert result.exit_code == 0, result.output
        styled = json.loads(result.stdout)["style_control"]
        assert styled["coefficients"][0]["elo"] > 100 and not styled.get("excluded")


def test_the_leaderboard_s_plain_ratings_are_reused_as_they_are():
    """`eval elo --style-control` hands style_control the tie-allowed table it already bootstrapped: the result
    is the one style_control computes on its own, and a battle left out still gets its own plain fit."""
    from chatrecipe.evaluate.elo import leaderboard

    battles = simulate(3000, seed=2)
    board = leaderboard(battles, bootstrap=30, seed=0)
    assert style_control(battles, 30, 0, plain=board["tie_allowed"]) == style_control(battles, 30, 0)
    partial = [dict(b) for b in battles]
    del partial[0]["conv_metadata"]
    reused = style_control(partial, 30, 0, skip_missing=True, plain=board["tie_allowed"])
    assert reused == style_control(partial, 30, 0, skip_missing=True) and len(reused["excluded"]) == 1
