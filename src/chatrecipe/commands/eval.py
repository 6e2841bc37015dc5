"""`chatrecipe eval mt-bench | winrate | elo | audit | rm | redteam | bench`: results from judgments and benchmarks.

Each command reads files, calls the evaluate module that computes (mt_bench, winrate, elo, audit, rm_bench,
redteam, lm_bench), prints a table, and with `--out DIR` writes the report section's JSON, Markdown, CSV and PNGs.
This file holds the judged leaderboards and the judge audit; eval_models.py the model benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.eval_models import app as models_app
from chatrecipe.commands.messages import echo_tables, fail, show_rejected, warn, write_section_outputs

app = typer.Typer(help="Evaluate: MT-Bench grades, win rates, Elo/Bradley-Terry, judge audit, reward-model "
                       "benchmark, red-teaming, standard benchmarks.", no_args_is_help=True, add_completion=False)

# --- mt-bench (evaluate/mt_bench.py) ---


@app.command("mt-bench")
def mt_bench(
    judgments: List[Path] = typer.Option(..., "--judgments", help="Judgment files: chatrecipe's, or FastChat "
                                         "llm_judge's model_judgment/*_single.jsonl and *_pair.jsonl."),
    questions: Optional[Path] = typer.Option(None, help="Question file, for per-category tables."),
    radar: Optional[Path] = typer.Option(None, help="Write the per-category radar plot here (PNG)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Tabulate MT-Bench-style grades (first turn, second turn, average, per category) and pairwise counts."""
    import json

    from chatrecipe.data.records import RecordFileError, load_records
    from chatrecipe.evaluate.mt_bench import load_judgments, pairwise_counts, radar_plot, single_scores
    from chatrecipe.report.sections.mt_bench import sample_warnings

    try:
        records = load_judgments(judgments)  # chatrecipe's or FastChat's layout
        asked = load_records(questions, "question") if questions else None  # AlpacaEval's evaluation set too
    except RecordFileError as exc:
        fail(str(exc))
    if asked is not None:
        show_rejected(asked.rejected)
    table = single_scores(records, asked.records if asked else None)
    pairs = pairwise_counts(records)
    if radar and table:
        radar_plot(table, radar)
    if as_json:
        print(json.dumps({"single": table, "pairwise": pairs}, default=str))
        return
    for model, row in sorted(table.items(), key=lambda kv: -(kv[1]["score"] or 0)):
        turns = "  ".join(f"turn {t}: {v:.2f}" for t, v in row["turns"].items())
        score = "n/a" if row["score"] is None else f"{row['score']:.2f}"
        interval = f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]" if row["ci_low"] is not None else " (no interval)"
        typer.echo(f"{model:<30} {score}{interval}  {turns}  ({row['valid']} graded, {row['failed']} failed)")
    for warning in sample_warnings(table):  # the report's warnings, on the console too
        warn(warning)
    for model, row in sorted(pairs.items()):
        typer.echo(f"{model:<30} win {row['win']} loss {row['loss']} tie {row['tie']}  "
                   f"win rate {row['win_rate']:.3f}  adjusted {row['win_rate_adjusted']:.3f}")

# --- winrate, elo, audit (evaluate/winrate.py, evaluate/elo.py, evaluate/audit.py) ---


@app.command()
def winrate(
    judgments: List[Path] = typer.Argument(..., help="Pairwise judgments (chatrecipe's or FastChat's *_pair.jsonl) "
                                           "or AlpacaEval annotations (one or several models' files)."),
    model: Optional[str] = typer.Option(None, help="The evaluated model (default: every model in the files)."),
    baseline: Optional[str] = typer.Option(None, help="The reference model (default: each model's opponent)."),
    bootstrap: int = typer.Option(2000, help="Bootstrap rounds for the interval (0: no interval)."),
    lc: Optional[str] = typer.Option(None, "--lc", help="Also the length-controlled win rate (AlpacaEval 2): "
                                     "'minimal' (fixed C), 'minimal-cv' (C by cross-validation, alpaca_eval's "
                                     "default for its minimal GLM), or 'v1' (AlpacaEval's official GLM; needs "
                                     "--lc-data)."),
    lc_data: Optional[Path] = typer.Option(None, "--lc-data", help="AlpacaEval's df_gamed.csv (instruction "
                                           "difficulties and gamed baselines) for --lc v1."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write JSON, Markdown, CSV tables and PNG plots "
                                       "into this folder."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Win rate against a baseline (ties half) with standard error and bootstrap interval, for every pair in the
    files or the one --model/--baseline pick; optionally length-controlled."""
    import json

    from chatrecipe.data.eval_formats.alpaca_eval import read_lc_data
    from chatrecipe.data.schema import RecordError
    from chatrecipe.evaluate.length_control import LengthControlError
    from chatrecipe.evaluate.winrate import WinRateError, winrate_table
    from chatrecipe.report.sections.winrate import verdict_warnings

    try:
        data = read_lc_data(lc_data) if lc_data else None
        table = winrate_table(judgments, model, baseline, bootstrap=bootstrap, lc=lc, lc_data=data)
    except RecordError as exc:
        fail(exc.reason)
    except (WinRateError, LengthControlError) as exc:
        fail(str(exc))
    show_rejected(table["rejected"])
    if out:
        from chatrecipe.report.sections.winrate import winrate_file_section

        out.mkdir(parents=True, exist_ok=True)
        write_section_outputs(winrate_file_section(table, out), out, "winrate")
    pairs = table["pairs"]
    if as_json:  # one pair: its figures also at the top level, as before several pairs were read
        print(json.dumps({**(pairs[0] if len(pairs) == 1 else {}), **table, "rejected": len(table["rejected"])}))
    else:
        for row in pairs:
            interval = (f", 95% CI [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"
                        if row["ci_low"] is not None else "")
            se = "n/a, one item" if row["se"] is None else f"{100 * row['se']:.1f}"
            typer.echo(f"{row['model']} vs {row['baseline']}: win rate {100 * row['value']:.1f}% (SE "
                       f"{se}{interval}) over {row['n']} items: {row['wins']} wins, {row['ties']} "
                       f"ties, {row['losses']} losses; {row['excluded_failures']} items with a failed judgment "
                       "excluded")
            if "length_controlled" in row:
                typer.echo(f"   length-controlled win rate ({lc}): "
                           f"{row['length_controlled']['length_controlled_winrate']:.1f}%")
        for row in pairs:  # the report's warnings, on the console too
            for warning in verdict_warnings(row["n"], row["ties"], f"{row['model']} vs {row['baseline']}"):
                warn(warning)
    if table["rejected"]:
        fail(f"{len(table['rejected'])} rows could not be read (listed above)", 1)


@app.command()
def elo(
    battles: List[Path] = typer.Argument(..., help="Battle files (Chatbot Arena format) or pairwise judgments; "
                                         "answer files among them go to --answers, so `--answers answers/*.jsonl` "
                                         "(one flag, many files) works."),
    bootstrap: int = typer.Option(1000, help="Bootstrap rounds (0: point ratings, no intervals)."),
    anchor: Optional[str] = typer.Option(None, help="Model pinned at 1000 (default: the mean is 1000)."),
    category: Optional[List[str]] = typer.Option(None, help="Keep only battles of these categories."),
    judge_prefix: Optional[str] = typer.Option(None, "--judge", help="Keep only battles whose judge starts with "
                                               "this (e.g. 'human:' for human votes)."),
    style: bool = typer.Option(False, "--style-control", help="Also the style-controlled ratings (Chatbot Arena's "
                               "style control: length, headers, lists, bold as covariates) beside the plain ones."),
    answers: List[Path] = typer.Option([], "--answers", help="Answer files (chatrecipe's or FastChat's "
                                       "model_answer): the style of judged answers."),
    tokenizer: Optional[str] = typer.Option(None, help="Tokenizer counting answer tokens (default: words)."),
    skip_missing: bool = typer.Option(False, "--skip-missing-style", help="List, not stop at, battles without style."),
    by_judge: bool = typer.Option(False, "--by-judge", help="Also each judge's ratings side by side (people's votes, "
                                  "judge human:<name>, as one): judge vs human leaderboards, style-controlled too "
                                  "with --style-control."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write JSON, Markdown, CSV tables and PNG plots "
                                       "into this folder."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Bradley-Terry ratings (tie allowed and no tie) with bootstrap intervals, plus online Elo; with
    --style-control, the style-controlled ratings, coefficients and rank changes beside them."""
    import json

    from chatrecipe.data.records import load_records
    from chatrecipe.evaluate.battle_files import read_battles
    from chatrecipe.evaluate.elo import BattleError, leaderboard, pooled_judges, select_battles
    from chatrecipe.report.sections.elo import elo_section, elo_tables, judge_tables

    answers = list(answers)  # answer files among the battle files join them (never append to the default list)
    rows, rejected = read_battles(battles, answer_files=answers)  # Arena battles, or judgments in any layout
    answer_records = None
    if answers:  # chatrecipe's or FastChat's layout (model_id, choices), validated like every answer file
        loaded = load_records(list(answers), "answer")
        answer_records, rejected = loaded.records, rejected + loaded.rejected
    show_rejected(rejected)
    try:
        rows = select_battles(rows, category, judge_prefix)
    except BattleError as exc:
        fail(str(exc))
    if not by_judge and (pooled := pooled_judges(rows)):
        warn(pooled)
    board, styled = leaderboard(rows, bootstrap=bootstrap, anchor=anchor), None
    if style and "error" not in board:
        from chatrecipe.evaluate.style_control import style_control

        try:
            styled = style_control(rows, bootstrap, anchor=anchor, tokenizer=tokenizer, skip_missing=skip_missing,
                                   answers=answer_records, plain=board["tie_allowed"])
        except BattleError as exc:
            fail(str(exc))
    compared = None
    if by_judge and "error" not in board:
        from chatrecipe.evaluate.judge_comparison import compare_judges

        try:
            style_options = {"tokenizer": tokenizer, "skip_missing": skip_missing, "answers": answer_records}
            compared = compare_judges(rows, bootstrap, anchor=anchor, style=style, **(style_options if style else {}))
        except BattleError as exc:
            fail(str(exc))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        section, _ = elo_section(board, out, source="the battle files", plot_prefix="", style=styled, judges=compared)
        write_section_outputs(section, out, "elo")
    if as_json:
        print(json.dumps({**board, **({"style_control": styled} if style else {}),
                          **({"by_judge": compared} if compared else {})}, default=str))
    else:
        echo_tables(*elo_tables(board, styled))
        if compared:
            echo_tables(*judge_tables(compared))
    if "error" in board:
        fail(f"nothing could be rated: {board['error']}")
    if rejected:
        fail(f"{len(rejected)} rows could not be read (listed above)", 1)


@app.command()
def audit(
    files: Optional[List[Path]] = typer.Argument(None, help="More input files, sorted by the records they hold, so "
                                                 "`--answers answers/*.jsonl` (one flag, many files) works."),
    pairwise: List[Path] = typer.Option([], "--pairwise", help="Pairwise judgment files (both orders)."),
    single: List[Path] = typer.Option([], "--single", help="Single-grade judgments of the same answers."),
    answers: List[Path] = typer.Option([], "--answers", help="Answer files (for length bias)."),
    human: List[Path] = typer.Option([], "--human", help="Human battles (judge 'human:<name>') on the same questions."),
    experiments: bool = typer.Option(False, help="Also run the judge experiments (debiasing instruction, injection) "
                                     "with --judge on --questions, --answers-a, --answers-b, writing to -o."),
    judge: Optional[str] = typer.Option(None, "--judge", help="Judge model for --experiments."),
    questions: Optional[Path] = typer.Option(None, help="Question file for --experiments."),
    answers_a: Optional[Path] = typer.Option(None, "--answers-a"), answers_b: Optional[Path] = typer.Option(None, "--answers-b"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for the experiments' judgments."),
    prefill: bool = typer.Option(False, help="Prefill the judge's verdict marker (small local judges)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write JSON, Markdown, CSV tables and PNG plots "
                                       "into this folder."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Measure the judge's quirks: position bias, swap consistency, length bias, grades vs verdicts, human agreement;
    with --experiments, whether a debiasing instruction shrinks the position bias and how often injection works."""
    import json

    from chatrecipe.commands.judged_files import load_input, one_models_answers
    from chatrecipe.evaluate.audit import audit_figures, read_inputs, sort_files

    try:
        extra = sort_files(files or [])
    except ValueError as exc:
        fail(str(exc))
    pairwise, single, answers, human = (pairwise + extra["pairwise"], single + extra["single"],
                                        answers + extra["answers"], human + extra["human"])

    if experiments:
        if not all((judge, questions, answers_a, answers_b, output)):
            fail("--experiments needs --judge, --questions, --answers-a, --answers-b and -o")
        from chatrecipe.backends import load_backend
        from chatrecipe.evaluate.judge_experiments import debiasing_experiment, injection_experiment

        # FastChat's and AlpacaEval's files too, one model's answers per file, checked before the judge is called
        qs, a, b = (load_input(questions, "question"), one_models_answers(answers_a, "--answers-a"),
                    one_models_answers(answers_b, "--answers-b"))
        backend = load_backend(judge, cache_dir=output / "cache")
        found = {"debiasing": debiasing_experiment(backend, qs, a, b, output, prefill=prefill),
                 "injection": injection_experiment(backend, qs, a, output, prefill=prefill)}
        (output / "experiments.json").write_text(json.dumps(found, indent=1, default=str))
        typer.echo(json.dumps(found, default=str) if as_json else
                   f"debiasing instruction: position bias {found['debiasing'].get('effect', 'n/a')}; injected twin "
                   f"wins {found['injection']['injected_wins_share']['value']} of decisive verdicts")
        if not pairwise:
            return
    if not pairwise:
        fail("give --pairwise judgment files (or --experiments)")
    inputs = read_inputs(pairwise, single, answers, human)  # chatrecipe's, FastChat's or AlpacaEval's files
    show_rejected(inputs["rejected"])
    if not inputs["pairwise"]:
        fail("no pairwise judgments could be read from --pairwise", 1)
    result = audit_figures(inputs["pairwise"], inputs["single"], inputs["answers"], judge=judge,
                           human=inputs["human"] or None)
    if out:
        from chatrecipe.report.sections.audit import audit_section

        out.mkdir(parents=True, exist_ok=True)
        section, _ = audit_section(result, out, judge=judge, plot_prefix="")
        write_section_outputs(section, out, "audit")
    if as_json:
        print(json.dumps({k: v for k, v in result.items() if k != "length"}, default=str))
    else:
        for name, figure in result["figures"].items():
            _show(name, figure)
        if "longer answer wins" in result["figures"]:
            typer.echo("  how much of each rating is length: chatrecipe eval elo JUDGMENTS --style-control --answers ...")
        if "human_agreement" in result:
            typer.echo(f"{'Cohen kappa (humans)':<40} {result['human_agreement']['cohen_kappa']}")
            for category, figure in result["human_agreement"]["per_category"].items():
                _show(f"  agreement with humans, {category}", figure)
    if inputs["rejected"]:
        fail(f"{len(inputs['rejected'])} rows could not be read (listed above); the figures leave them out", 1)


def _show(name: str, figure: dict) -> None:
    if figure.get("value") is None:
        typer.echo(f"{name:<40} n/a (no data)")
    else:
        typer.echo(f"{name:<40} {100 * figure['value']:5.1f}%  [{100 * figure['ci_low']:.1f}, "
                   f"{100 * figure['ci_high']:.1f}]  n={figure['n']}")


# the evaluations of the models themselves (reward-model accuracy, red-teaming, standard benchmarks)
app.registered_commands.extend(models_app.registered_commands)
