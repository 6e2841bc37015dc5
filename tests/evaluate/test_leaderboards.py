"""Win rates and Bradley-Terry / Elo against hand-computed values and the logistic-regression fit."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chatrecipe.evaluate.elo import (BattleError, battles_from_judgments, bradley_terry, leaderboard,
                                     online_elo)
from chatrecipe.evaluate.winrate import (WinRateError, preferences_from_alpaca, preferences_from_judgments,
                                         win_rate)


def battles(table: dict) -> list[dict]:
    """{(a, b): (a_wins, b_wins, ties)} -> battle records."""
    out = []
    for (a, b), (wa, wb, t) in table.items():
        out += [{"model_a": a, "model_b": b, "winner": "model_a"}] * wa
        out += [{"model_a": a, "model_b": b, "winner": "model_b"}] * wb
        out += [{"model_a": a, "model_b": b, "winner": "tie"}] * t
    return out


THREE = battles({("x", "y"): (7, 3, 0), ("y", "z"): (6, 4, 0), ("x", "z"): (8, 2, 0)})


def test_win_rate_known_value_and_interval():
    scores = [1] * 6 + [0.5] * 2 + [0] * 2  # 6 wins, 2 ties, 2 losses
    result = win_rate(scores, bootstrap=4000, seed=1)
    assert result["value"] == pytest.approx(0.7)
    assert result["se"] == pytest.approx(np.std(scores, ddof=1) / math.sqrt(10))  # 0.1106...
    assert result["ci_low"] == pytest.approx(0.45, abs=0.05) and result["ci_high"] == pytest.approx(0.9, abs=0.05)
    assert (result["wins"], result["ties"], result["losses"]) == (6, 2, 2)
    with pytest.raises(WinRateError):
        win_rate([])


def test_win_rate_from_judgments_combines_orders_and_excludes_failures():
    def j(q, order, winner, error=None):
        return {"question_id": q, "kind": "pairwise", "model_a": "sft", "model_b": "base", "order": order,
                "turn": 1, "winner": winner, "error": error, "judge": "j"}
    judgments = [j(1, "ab", "model_a"), j(1, "ba", "model_a"),      # consistent win
                 j(2, "ab", "model_a"), j(2, "ba", "model_b"),      # inconsistent -> tie
                 j(3, "ab", None, "unparseable"), j(3, "ba", "model_b"),  # failed -> excluded
                 j(4, "ab", "model_b"), j(4, "ba", "model_b")]      # loss
    scores, stats = preferences_from_judgments(judgments, "sft", "base")
    assert sorted(scores) == [0.0, 0.5, 1.0] and stats["excluded_failures"] == 1
    assert stats["consistency"] == pytest.approx(2 / 3)
    reversed_scores, _ = preferences_from_judgments(judgments, "base", "sft")
    assert sorted(reversed_scores) == [0.0, 0.5, 1.0]
    with pytest.raises(WinRateError, match="no pairwise judgments"):
        preferences_from_judgments(judgments, "dpo", "base")


def test_alpaca_eval_preferences_are_soft():
    rows = [{"instruction": "i", "generator_1": "ref", "generator_2": "m", "preference": p} for p in (2, 1, 1.5, None)]
    scores, stats = preferences_from_alpaca(rows)
    assert scores == [1.0, 0.0, 0.5] and stats["excluded_failures"] == 1


def test_three_model_order_and_logistic_regression_agreement():
    from sklearn.linear_model import LogisticRegression

    ratings = bradley_terry(THREE)
    assert ratings["x"] > ratings["y"] > ratings["z"]
    assert np.mean(list(ratings.values())) == pytest.approx(1000)
    # the Chatbot Arena notebook's fit: one row per battle, +1/-1 model indicators, no intercept, no penalty
    models = ["x", "y", "z"]
    features, labels = [], []
    for b in THREE:
        row = np.zeros(3)
        row[models.index(b["model_a"])], row[models.index(b["model_b"])] = math.log(10), -math.log(10)
        features.append(row)
        labels.append(1 if b["winner"] == "model_a" else 0)
    fit = LogisticRegression(fit_intercept=False, C=1e8, tol=1e-10, max_iter=10000).fit(features, labels)
    reference = 400 * fit.coef_[0]
    reference = 1000 + reference - reference.mean()
    for model, value in zip(models, reference):
        assert ratings[model] == pytest.approx(value, abs=1.0)


def test_two_model_rating_matches_the_closed_form():
    ratings = bradley_terry(battles({("a", "b"): (3, 1, 0)}))
    assert ratings["a"] - ratings["b"] == pytest.approx(400 * math.log10(3), abs=1e-6)  # p = 3/4 -> odds 3


def test_ties_allowed_vs_dropped_and_intervals():
    data = battles({("x", "y"): (5, 3, 4), ("y", "z"): (4, 4, 2), ("x", "z"): (6, 2, 2)})
    board = leaderboard(data, bootstrap=200, seed=0)
    for table in ("tie_allowed", "tie_none"):
        for values in board[table].values():
            assert values["ci_low"] <= values["value"] <= values["ci_high"]
    assert board["tie_allowed"]["x"]["value"] < board["tie_none"]["x"]["value"]  # ties pull ratings together
    assert board["battle_counts"] == {"x": 22, "y": 22, "z": 20}
    assert board["matrices"]["observed"][0][1] == pytest.approx((5 + 2) / 12)


def test_bad_battles_are_refused_clearly():
    with pytest.raises(BattleError, match="only"):
        bradley_terry([{"model_a": "a", "model_b": "a", "winner": "tie"}])
    with pytest.raises(BattleError, match="unknown winner"):
        bradley_terry([{"model_a": "a", "model_b": "b", "winner": "A"}])
    with pytest.raises(BattleError, match="disconnected.*a, b \\| c, d"):
        bradley_terry(battles({("a", "b"): (1, 1, 0), ("c", "d"): (2, 1, 0)}))


def test_online_elo_and_battles_from_judgments():
    ratings = online_elo(battles({("a", "b"): (10, 0, 0)}))
    assert ratings["a"] > 1000 > ratings["b"] and ratings["a"] + ratings["b"] == pytest.approx(2000)
    judgments = [{"question_id": 1, "kind": "pairwise", "model_a": "s", "model_b": "b", "order": o, "turn": 1,
                  "winner": w, "error": None, "judge": "j"} for o, w in (("ab", "model_a"), ("ba", "model_b"))]
    assert battles_from_judgments(judgments, [{"question_id": 1, "category": "math"}]) == [
        {"model_a": "s", "model_b": "b", "winner": "tie", "question_id": 1, "category": "math", "judge": "j",
         "turn": 1}]


def test_elo_out_writes_the_printed_leaderboard_with_its_anchor(tmp_path):
    """`eval elo --anchor M --out DIR`: the files hold the same ratings the command printed, anchored on M."""
    import json

    from typer.testing import CliRunner

    from chatrecipe.cli import app

    battles = tmp_path / "battles.jsonl"
    rows = ([{"model_a": "a", "model_b": "b", "winner": "model_a"}] * 6 + [{"model_a": "b", "model_b": "c",
            "winner": "model_a"}] * 6 + [{"model_a": "a", "model_b": "c", "winner": "model_b"}] * 2
            + [{"model_a": "a", "model_b": "b", "winner": "model_b"}] * 2)
    battles.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["eval", "elo", str(battles), "--anchor", "c", "--bootstrap", "20",
                                      "--out", str(tmp_path / "elo"), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["tie_allowed"]["c"]["value"] == pytest.approx(1000.0)
    table = json.loads((tmp_path / "elo" / "elo.json").read_text())["tables"][0]
    written = {row[0]: float(row[1]) for row in table["rows"]}
    assert written["c"] == 1000.0
    assert written == {m: round(v["value"]) for m, v in printed["tie_allowed"].items()}

def test_bootstrap_zero_gives_point_ratings_marked_as_such():
    data = battles({("x", "y"): (5, 3, 4), ("y", "z"): (4, 4, 2), ("x", "z"): (6, 2, 2)})
    board = leaderboard(data, bootstrap=0)
    assert "no intervals" in board["note"] and board["bootstrap"] == 0
    for table in ("tie_allowed", "tie_none"):
        assert all(v["ci_low"] is None and v["ci_high"] is None for v in board[table].values())
    assert board["tie_allowed"]["x"]["value"] == pytest.approx(bradley_terry(data)["x"])
    assert board["tie_none"]["x"]["value"] == pytest.approx(bradley_terry(data, ties="none")["x"])


@pytest.mark.parametrize("bootstrap", [0, 20])
def test_degenerate_battle_files_get_a_message(bootstrap):
    only_ties = battles({("a", "b"): (0, 0, 3)})
    board = leaderboard(only_ties, bootstrap=bootstrap)
    assert board["tie_none"] == {"error": "no decisive battles: every battle was a tie"}
    assert board["tie_allowed"]["a"]["value"] == pytest.approx(1000) and "error" not in board
    one_model = [{"model_a": "a", "model_b": "a", "winner": "tie"}] * 2
    board = leaderboard(one_model, bootstrap=bootstrap)
    assert "only ['a']" in board["tie_allowed"]["error"] and "only ['a']" in board["error"]
    board = leaderboard([], bootstrap=bootstrap)
    assert board["error"] == "no battles to rate: the file is empty or every verdict failed"
    board = leaderboard(battles({("a", "b"): (1, 1, 0)}), bootstrap=bootstrap, anchor="c")
    assert "anchor 'c' is not among the rated models (a, b)" in board["error"]
    board = leaderboard([{"model_a": "a", "model_b": "b", "winner": "A"}], bootstrap=bootstrap)
    assert "unknown winner label(s) A (first in battle 1)" in board["error"]


def test_fast_bootstrap_draws_the_same_samples_as_the_plain_loop():
    """Dropping empty cells from the multinomial and warm-starting each refit change nothing but the time: the
    intervals equal those of drawing over every cell and fitting from zero, as the first implementation did."""
    from chatrecipe.evaluate.elo import bootstrap_ratings, fit_bradley_terry, outcome_table, to_elo

    rng = np.random.default_rng(4)
    data = [{"model_a": f"m{a}", "model_b": f"m{(a + d) % 7}", "winner": w} for a, d, w in
            zip(rng.integers(0, 7, 3000), rng.integers(1, 7, 3000),
                rng.choice(["model_a", "model_b", "tie"], 3000, p=[0.45, 0.4, 0.15]))]
    fast = bootstrap_ratings(data, rounds=50, seed=3)
    models, wins, ties = outcome_table(data)
    cells = np.concatenate([wins.ravel(), ties.ravel()])
    draws = np.random.default_rng(3)
    samples = []
    n = len(models)
    for _ in range(50):
        draw = draws.multinomial(int(cells.sum()), cells / cells.sum()).astype(float)
        sample = draw[:n * n].reshape(n, n) + 0.5 * (draw[n * n:].reshape(n, n) + draw[n * n:].reshape(n, n).T)
        elo = to_elo(fit_bradley_terry(sample, tol=1e-12, prior=0.01), models)
        samples.append([elo[m] for m in models])
    low, high = np.quantile(np.array(samples), [0.025, 0.975], axis=0)
    for i, m in enumerate(models):
        assert fast[m]["ci_low"] == pytest.approx(low[i], abs=1e-4)
        assert fast[m]["ci_high"] == pytest.approx(high[i], abs=1e-4)


def test_read_battles_fast_road_gives_what_the_careful_road_gives(tmp_path):
    import gzip

    from chatrecipe.data.records import load_records
    from chatrecipe.evaluate.battle_files import read_battles
    from chatrecipe.evaluate.battles import battle_table

    rows = THREE + [{"model_a": "x", "model_b": "y", "winner": "tie (bothbad)", "category": "math", "n": 1.5}]
    text = "".join(json.dumps(r) + "\n" for r in rows) + "\n"
    (tmp_path / "b.jsonl").write_text(text)
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as handle:
        handle.write(text)
    (tmp_path / "b.json").write_text(json.dumps(rows))
    for name in ("b.jsonl", "b.jsonl.gz", "b.json"):
        assert read_battles([tmp_path / name]) == (load_records(tmp_path / name, "battle").records, [])
    assert read_battles([tmp_path / "b.jsonl"])[0][0] == {"question_id": None, "category": None, "judge": None,
                                                          **THREE[0]}
    # one odd line anywhere: the whole file goes the careful way, the valid rows kept, the bad ones named
    (tmp_path / "bad.jsonl").write_text(text + '{"model_a": "x", "model_b": \n'
                                        + json.dumps({"model_a": "x", "model_b": "x", "winner": "tie"}) + "\n")
    kept, rejected = read_battles([tmp_path / "bad.jsonl"])
    assert len(kept) == len(rows) and [(r["line"], r["field"]) for r in rejected] == [(33, None), (34, "model_b")]
    assert rejected[0]["reason"].startswith("malformed JSON")
    table = battle_table(rows)
    assert table.models == ["x", "y", "z"] and table.code.tolist()[-1] == 1
    wins, ties = table.counts()
    assert wins[0, 1] == 7 and wins[1, 0] == 3 and ties[0, 1] == 1


def test_eval_elo_command_point_ratings_and_nothing_to_rate(tmp_path):
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in THREE))
    result = CliRunner().invoke(app, ["eval", "elo", str(path), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "(no bootstrap: point ratings, no intervals)" in result.stdout and "n/a" in result.stdout
    path.write_text(json.dumps({"model_a": "a", "model_b": "b", "winner": "tie"}) + "\n")
    result = CliRunner().invoke(app, ["eval", "elo", str(path), "--bootstrap", "0"])
    assert result.exit_code == 0 and "warning: No tie: no decisive battles: every battle was a tie" in result.stderr
    path.write_text(json.dumps({"model_a": "a", "model_b": "a", "winner": "tie"}) + "\n")
    result = CliRunner().invoke(app, ["eval", "elo", str(path), "--bootstrap", "0"])
    assert result.exit_code == 2 and "battles.jsonl:1: field 'model_b': is the same model as model_a" in result.stderr
    assert "error: nothing could be rated: no battles to rate" in result.stderr


def test_hostile_battle_files_take_the_careful_road(tmp_path):
    """What orjson refuses or would read differently (NaN, 1e999, a lone surrogate, an integer beyond 64 bits, a
    truncated .gz) sends the file to load_records: the same rows kept, the same reasons given."""
    import gzip

    from chatrecipe.data.records import load_records
    from chatrecipe.evaluate.battle_files import read_battles

    good = "".join(json.dumps(r) + "\n" for r in THREE)
    for name, extra in (("nan", '{"model_a": "x", "model_b": "y", "winner": "tie", "score": NaN}'),
                        ("inf", '{"model_a": "x", "model_b": "y", "winner": "tie", "score": 1e999}'),
                        ("surrogate", '{"model_a": "x", "model_b": "y", "winner": "tie", "note": "\\ud800"}'),
                        ("bigint", '{"model_a": "x", "model_b": "y", "winner": "tie", "question_id": '
                                   '123456789012345678901234567890}')):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(good + extra + "\n")
        careful = load_records(path, "battle")
        assert read_battles([path]) == (careful.records, careful.rejected), name
    assert read_battles([tmp_path / "bigint.jsonl"])[0][-1]["question_id"] == 123456789012345678901234567890
    blob = gzip.compress(good.encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    careful = load_records(tmp_path / "cut.jsonl.gz", "battle")
    assert read_battles([tmp_path / "cut.jsonl.gz"]) == (careful.records, careful.rejected)
    assert careful.rejected  # the careful road says where the stream ended


def test_a_filter_that_keeps_no_battle_names_what_the_file_has(tmp_path):
    """`eval elo --category coding` on a file without coding battles: not "every battle was a tie"."""
    import json

    from typer.testing import CliRunner

    from chatrecipe.cli import app

    path = tmp_path / "b.jsonl"
    path.write_text("".join(json.dumps({"model_a": "a", "model_b": "b", "winner": w, "category": c, "judge": "gpt"})
                            + "\n" for w, c in (("model_a", "chat"), ("model_b", "chat"), ("tie", "math"))))
    result = CliRunner().invoke(app, ["eval", "elo", str(path), "--category", "coding", "--bootstrap", "0"])
    assert result.exit_code == 2
    assert "no battle has category coding" in result.output and "chat (2), math (1)" in result.output
    humans = CliRunner().invoke(app, ["eval", "elo", str(path), "--judge", "human:", "--bootstrap", "0"])
    assert humans.exit_code == 2 and "judges are: gpt (3)" in humans.output


def test_human_and_model_judge_battles_rated_together_are_flagged(tmp_path):
    """The annotation app's votes (judge human:<name>) and a model judge's verdicts in one `eval elo`: the talk
    compares judge and human leaderboards, so pooling them is said, with how to rate each alone."""
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    rows = [{"model_a": "a", "model_b": "b", "winner": w, "judge": j}
            for w, j in (("model_a", "human:ana"), ("model_b", "human:bob"), ("model_a", "gpt-4"),
                         ("tie", "gpt-4"), ("model_a", "gpt-4"))]
    path = tmp_path / "b.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pooled = CliRunner().invoke(app, ["eval", "elo", str(path), "--bootstrap", "0"])
    assert pooled.exit_code == 0, pooled.output
    assert ("warning: 2 human battles (judge human:...) and 3 from other judges (gpt-4 (3)) are rated together; "
            "pass --by-judge to see each judge's ratings side by side") in pooled.stderr
    alone = CliRunner().invoke(app, ["eval", "elo", str(path), "--bootstrap", "0", "--judge", "human:"])
    assert alone.exit_code == 0 and "rated together" not in alone.stderr


def test_a_filter_on_battles_without_categories_says_they_have_none():
    """Arena files often carry no category: the message says so in words, not 'None (3)'."""
    from chatrecipe.evaluate.elo import select_battles

    rows = [{"model_a": "a", "model_b": "b", "winner": "model_a"}] * 3
    with pytest.raises(BattleError, match=r"categories are: no category \(3\)$"):
        select_battles(rows, ["coding"])
    with pytest.raises(BattleError, match=r"judges are: no judge \(3\)$"):
        select_battles(rows, None, "human:")


@pytest.mark.parametrize("bootstrap", [0, 100])
def test_a_model_that_won_every_battle_has_a_finite_rating_inside_its_interval_and_a_warning(bootstrap):
    """Before: ten wins of x over y gave the rating where Newton's 100 iterations stopped (3276) and bootstrap
    intervals of [1.4e34, 1.4e34] (a line search that accepted a worse step once it got small): maximum likelihood
    has no finite answer there. Now the ratings are the bootstrap's 0.01-tie prior fit, inside their interval, and
    the board says why; a table that has a finite fit keeps its exact maximum likelihood."""
    from chatrecipe.report.sections.elo import plain_tables

    board = leaderboard(battles({("x", "y"): (10, 0, 0)}), bootstrap=bootstrap)
    for table in ("tie_allowed", "tie_none"):
        x, y = board[table]["x"], board[table]["y"]
        assert 1000 < x["value"] < 2500 and y["value"] == pytest.approx(2000 - x["value"])
        if bootstrap:
            assert x["ci_low"] - 1e-3 <= x["value"] <= x["ci_high"] + 1e-3
            assert y["ci_low"] - 1e-3 <= y["value"] <= y["ci_high"] + 1e-3
        assert "x never lost; y never won" in board[f"{table}_unbounded"]
    _tables, warnings = plain_tables(board)
    assert sum("no finite ratings" in w for w in warnings) == 2
    # z never won without ties; with ties (x-z drawn) every group lost once: only the no-tie table is unbounded
    mixed = leaderboard(battles({("x", "y"): (3, 3, 0), ("y", "z"): (3, 0, 0), ("x", "z"): (0, 0, 3)}),
                        bootstrap=bootstrap)
    assert "tie_allowed_unbounded" not in mixed and "z never won" in mixed["tie_none_unbounded"]
    assert mixed["tie_allowed"]["x"]["value"] == pytest.approx(bradley_terry(battles(
        {("x", "y"): (3, 3, 0), ("y", "z"): (3, 0, 0), ("x", "z"): (0, 0, 3)}))["x"])
    if bootstrap:
        for m, v in mixed["tie_none"].items():
            assert v["ci_low"] - 1e-3 <= v["value"] <= v["ci_high"] + 1e-3, m


def test_a_win_rate_over_one_item_has_no_standard_error_or_interval_and_its_json_is_json(tmp_path):
    """Before: one judged item gave "se": NaN, so `eval winrate --json` printed NaN (not JSON: strict readers
    refuse it) and the text said "SE nan, 95% CI [100.0, 100.0]", a bootstrap over a single item."""
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    one = win_rate([1.0], bootstrap=200)
    assert (one["value"], one["se"], one["ci_low"], one["ci_high"], one["n"]) == (1.0, None, None, None, 1)
    judgment = {"kind": "pairwise", "question_id": 1, "model_a": "a", "model_b": "b", "turn": 1, "judge": "j",
                "error": None, "order": "ab", "winner": "model_a"}
    path = tmp_path / "pair.jsonl"
    path.write_text(json.dumps(judgment) + "\n")
    printed = CliRunner().invoke(app, ["eval", "winrate", str(path), "--model", "a", "--baseline", "b", "--json"])
    assert printed.exit_code == 0, printed.output

    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    shown = json.loads(printed.output.strip().splitlines()[-1], parse_constant=refuse)
    assert shown["se"] is None and shown["ci_low"] is None and shown["n"] == 1
    text = CliRunner().invoke(app, ["eval", "winrate", str(path), "--model", "a", "--baseline", "b"])
    assert "win rate 100.0% (SE n/a, one item) over 1 items" in text.output and "nan" not in text.output


def test_eval_elo_json_is_json(tmp_path):
    """Before: every `eval elo --json` held NaN (the win-rate matrices' diagonal and pairs that never met), which
    strict JSON readers (jq, JavaScript) refuse. Those cells are null now, and the heatmaps leave them empty."""
    from typer.testing import CliRunner

    from chatrecipe.cli import app

    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in THREE + battles({("x", "w"): (1, 1, 0)})))
    printed = CliRunner().invoke(app, ["eval", "elo", str(path), "--json", "--bootstrap", "20"])
    assert printed.exit_code == 0, printed.output

    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    board = json.loads(printed.output.strip().splitlines()[-1], parse_constant=refuse)
    models = board["matrices"]["models"]
    for kind in ("observed", "predicted"):
        assert all(board["matrices"][kind][i][i] is None for i in range(len(models)))
    never = board["matrices"]["observed"][models.index("w")][models.index("y")]
    assert never is None  # w and y never met
    assert board["matrices"]["observed"][models.index("x")][models.index("y")] == pytest.approx(0.7)
