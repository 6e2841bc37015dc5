"""The Elo section lays out what evaluate computed: plain tables, and with style control the side-by-side table,
the coefficients in Elo and the rank changes as warnings."""

from __future__ import annotations

from chatrecipe.evaluate.elo import leaderboard
from chatrecipe.evaluate.style_control import style_control
from chatrecipe.report.sections.elo import elo_section
from tests.evaluate.test_style_control import simulate


def test_plain_and_style_controlled_side_by_side(tmp_path):
    battles = simulate(3000, seed=5)
    board = leaderboard(battles, bootstrap=20)
    style = style_control(battles, bootstrap=20)
    section, per_model = elo_section(board, tmp_path, source="simulated battles", style=style)
    titles = [t["title"] for t in section["tables"]]
    assert titles == ["Bradley-Terry ratings, tie allowed (20 bootstrap rounds)",
                      "Bradley-Terry ratings, no tie (20 bootstrap rounds)",
                      "Plain vs style-controlled ratings, tie allowed (20 bootstrap rounds)",
                      "Style coefficients: what one standard deviation of relative style is worth"]
    side = {row[0]: row for row in section["tables"][2]["rows"]}
    assert side["terse-strong"][6].endswith("-> 1") and side["terse-strong"][7].startswith("up")
    assert side["verbose-weak"][7].startswith("down")
    assert float(side["verbose-weak"][5]) < 0 < float(side["terse-strong"][5])  # style-controlled minus plain
    length = section["tables"][3]["rows"][0]
    assert length[0] == "length" and float(length[1]) > 50 and length[4].startswith("+1 standard deviation")
    assert any(w.startswith(f"{len(style['rank_changes'])} model(s) change rank") for w in section["warnings"])
    assert section["plots"][-1] == "eval/elo_style_controlled.png" and (tmp_path / "elo_style_controlled.png").exists()
    assert per_model["mid"]["elo_style_controlled"]["value"] == style["style_controlled"]["mid"]["value"]
    assert section["metrics"]["rank_changes"] == len(style["rank_changes"])


def test_point_ratings_and_a_failed_style_fit_are_said(tmp_path):
    battles = simulate(300, seed=6)
    section, _ = elo_section(leaderboard(battles, bootstrap=0), tmp_path, source="s",
                             style={"error": "no battles to rate"})
    assert section["tables"][0]["title"].endswith("(no bootstrap: point ratings, no intervals)")
    assert {row[2] for row in section["tables"][0]["rows"]} == {"n/a"}
    assert "Style control: no battles to rate" in section["warnings"] and len(section["tables"]) == 2
