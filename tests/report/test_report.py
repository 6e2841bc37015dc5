"""The report: sections from run files, self-contained HTML, Markdown, JSON, leaderboard across runs."""

from __future__ import annotations

import json
from pathlib import Path

from chatrecipe.report.build import build_report


def _png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(path)
    plt.close(fig)


def make_run(root: Path, name: str, win: float, sweep_value=None, prompt_tokens=None) -> Path:
    run = root / name
    (run / "eval" / "sections").mkdir(parents=True)
    (run / "sft").mkdir()
    (run / "data").mkdir()
    _png(run / "sft" / "loss.png")
    (run / "sft" / "metrics.json").write_text(json.dumps({"train_loss": 1.23, "train_seconds": 60.0}))
    (run / "recipe.yaml").write_text("sft:\n  method: lora\n  learning_rate: 0.0002\n")
    (run / "data" / "report.json").write_text(json.dumps({
        "title": "Data", "order": 10, "tables": [{"title": "Lengths", "columns": ["source", "mean"],
                                                  "rows": [["starter", 120.5]]}]}))
    (run / "eval" / "sections" / "10-winrate.json").write_text(json.dumps({
        "title": "Win rate <vs> base", "order": 60, "warnings": ["position consistency is low (40%)"],
        "tables": [{"title": "Win rates", "columns": ["model", "win rate"], "rows": [["<b>sft</b>", win]]}],
        "provenance": {"judge": "smollm2", "prompt_hash": "abc"}}))
    (run / "eval" / "summary.json").write_text(json.dumps({"models": {
        "sft": {"win_rate": {"value": win, "ci_low": win - 0.1, "ci_high": win + 0.1}}}}))
    if prompt_tokens is not None:  # two sources: the average is weighted by count
        (run / "data" / "stats-sft").mkdir()
        (run / "data" / "stats-sft" / "stats.json").write_text(json.dumps({"lengths": [
            {"source": "a", "part": "prompt", "count": 3, "mean": prompt_tokens - 10},
            {"source": "b", "part": "prompt", "count": 1, "mean": prompt_tokens + 30},
            {"source": "a", "part": "completion", "count": 3, "mean": 999}]}))
    if sweep_value is not None:
        (run / "sweep.json").write_text(json.dumps({"sweep_key": "data.size", "sweep_value": sweep_value}))
    return run


def test_single_run_report_is_self_contained_and_escaped(tmp_path):
    run = make_run(tmp_path, "demo", 0.6)
    paths = build_report([run], run / "report")
    page = paths["html"].read_text()
    assert "data:image/png;base64," in page  # plots inline
    assert "http://" not in page and "https://" not in page  # nothing fetched at view time
    assert "&lt;b&gt;sft&lt;/b&gt;" in page and "<b>sft</b>" not in page  # table text escaped
    assert "Win rate &lt;vs&gt; base" in page
    assert "position consistency is low" in page and "Provenance" in page
    for title in ("Data", "Training: Supervised fine-tuning"):
        assert title in page
    assert "learning_rate" in page  # effective settings from the resolved recipe
    markdown = paths["markdown"].read_text()
    assert "| <b>sft</b> | 0.6 |" in markdown
    summary = json.loads(paths["json"].read_text())
    assert summary["runs"][0]["models"]["sft"]["win_rate"]["value"] == 0.6


def test_leaderboard_and_sweep_across_runs(tmp_path):
    runs = [make_run(tmp_path, f"size-{n}", w, sweep_value=n, prompt_tokens=t)
            for n, w, t in ((50, 0.4, 40), (100, 0.55, 60), (200, 0.7, 80))]
    paths = build_report(runs, tmp_path / "board", leaderboard=True)
    page = paths["html"].read_text()
    assert "Leaderboard across runs" in page
    assert '<a href="../size-100/report/index.html">report</a>' in page  # each run's own page, relative
    assert "0.55 [0.45, 0.65]" in page
    assert (tmp_path / "board" / "sweep_win_rate.png").exists()
    assert "Ablation: score vs data.size" in page
    assert (tmp_path / "board" / "sweep_win_rate_vs_prompt_length.png").exists()
    summary = json.loads(paths["json"].read_text())
    assert [r["mean_prompt_tokens"] for r in summary["runs"]] == [40, 60, 80]


def test_live_view_serves_and_refreshes_while_running(tmp_path):
    from fastapi.testclient import TestClient

    from chatrecipe.report.live import create_app

    run = make_run(tmp_path, "live", 0.5)
    (run / "manifest.json").write_text(json.dumps({"stages": {"sft": {"status": "running"}}}))
    client = TestClient(create_app([run]))
    assert "live</a> (running)" in client.get("/").text
    page = client.get("/run/live").text
    assert 'http-equiv="refresh"' in page and "Win rate" in page
    (run / "manifest.json").write_text(json.dumps({"stages": {"sft": {"status": "done"}}}))
    assert 'http-equiv="refresh"' not in client.get("/run/live").text
    assert client.get("/run/nope").status_code == 404


def test_report_renders_in_chromium_without_errors(tmp_path, chromium):
    run = make_run(tmp_path, "browser", 0.61)
    paths = build_report([run], run / "report")
    for width, name in ((1280, "desktop"), (390, "phone")):
        page = chromium.new_page(viewport={"width": width, "height": 900})
        errors = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(paths["html"].as_uri())
        assert errors == []
        images = page.locator("img")
        assert images.count() == 1
        assert all(page.evaluate("i => i.naturalWidth", images.nth(i).element_handle()) > 0
                   for i in range(images.count()))
        assert page.locator("table.sortable").count() == 5  # the opening summary, data, win rate, training x2
        # sorting works: click the "win rate" header twice and read the order back
        table = page.locator("table.sortable", has=page.locator("th", has_text="win rate"))
        table.locator("th", has_text="win rate").click()
        assert table.locator("td").nth(1).inner_text() == "0.61"
        page.screenshot(path=str(tmp_path / f"report-{name}.png"), full_page=True)
        page.close()


def test_interval_plots_accept_intervals_that_exclude_the_estimate(tmp_path):
    from chatrecipe.report.plots import bars_with_intervals, ratings_plot

    skewed = {"a": {"value": 1010.0, "ci_low": 1012.0, "ci_high": 1030.0}, "b": {"value": 990.0, "ci_low": 970.0,
                                                                                   "ci_high": 995.0}}
    assert ratings_plot(skewed, tmp_path / "r.png", "ratings").exists()
    assert bars_with_intervals({"x": {"value": 0.5, "ci_low": 0.55, "ci_high": 0.9}}, tmp_path / "b.png", "b").exists()


def test_the_audit_links_to_the_style_controlled_ratings(tmp_path):
    """The judge audit's length figure points to the ratings with length as a covariate, also side by side."""
    runs = []
    for name in ("a", "b"):
        run = make_run(tmp_path, name, 0.6)
        (run / "eval" / "sections" / "70-elo.json").write_text(json.dumps({"title": "Elo", "order": 70,
                                                                             "anchor": "elo"}))
        (run / "eval" / "sections" / "80-audit.json").write_text(json.dumps({
            "title": "Judge audit", "order": 80, "links": [{"text": "style-controlled ratings", "href": "#elo"}]}))
        runs.append(run)
    page = build_report(runs[:1], tmp_path / "one")["html"].read_text()
    assert 'id="elo"' in page and 'href="#elo"' in page
    both = build_report(runs, tmp_path / "both")["html"].read_text()
    assert 'id="a-elo"' in both and 'href="#a-elo"' in both and 'id="b-elo"' in both and 'href="#b-elo"' in both
