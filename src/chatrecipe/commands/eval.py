"""`chatrecipe eval mt-bench | winrate | elo | audit | rm | redteam | bench`: results from judgments and benchmarks.

Each command reads files, calls the evaluate module that computes (mt_bench, winrate, elo, audit, rm_bench,
redteam, lm_bench), prints a table, and with `--out DIR` writes the report section's JSON, Markdown, CSV and PNGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.messages import echo_tables, fail, show_rejected, write_section_outputs
from chatrecipe.commands.options import ALLOW_PICKLE, apply_allow_pickle

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

    from chatrecipe.data.records import RecordFileError, read_jsonl
    from chatrecipe.evaluate.mt_bench import load_judgments, pairwise_counts, radar_plot, single_scores

    try:
        records = load_judgments(judgments)  # chatrecipe's or FastChat's layout
    except RecordFileError as exc:
        fail(str(exc))
    table = single_scores(records, read_jsonl(questions) if questions else None)
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
                                     "'minimal', or 'v1' (AlpacaEval's official GLM; needs --lc-data)."),
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
            typer.echo(f"{row['model']} vs {row['baseline']}: win rate {100 * row['value']:.1f}% (SE "
                       f"{100 * row['se']:.1f}{interval}) over {row['n']} items: {row['wins']} wins, {row['ties']} "
                       f"ties, {row['losses']} losses; {row['excluded_failures']} failed judgments excluded")
            if "length_controlled" in row:
                typer.echo(f"   length-controlled win rate ({lc}): "
                           f"{row['length_controlled']['length_controlled_winrate']:.1f}%")
    if table["rejected"]:
        fail(f"{len(table['rejected'])} rows could not be read (listed above)", 1)


@app.command()
def elo(
    battles: List[Path] = typer.Argument(..., help="Battle files (Chatbot Arena format) or pairwise judgments."),
    bootstrap: int = typer.Option(1000, help="Bootstrap rounds (0: point ratings, no intervals)."),
    anchor: Optional[str] = typer.Option(None, help="Model pinned at 1000 (default: the mean is 1000)."),
    category: Optional[List[str]] = typer.Option(None, help="Keep only battles of these categories."),
    judge_prefix: Optional[str] = typer.Option(None, "--judge", help="Keep only battles whose judge starts with "
                                               "this (e.g. 'human:' for human votes)."),
    style: bool = typer.Option(False, "--style-control", help="Also the style-controlled ratings (Chatbot Arena's "
                               "style control: length, headers, lists, bold as covariates) beside the plain ones."),
    answers: List[Path] = typer.Option([], "--answers", help="Answer files: the style of judged answers."),
    tokenizer: Optional[str] = typer.Option(None, help="Tokenizer counting answer tokens (default: words)."),
    skip_missing: bool = typer.Option(False, "--skip-missing-style", help="List, not stop at, battles without style."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write JSON, Markdown, CSV tables and PNG plots "
                                       "into this folder."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Bradley-Terry ratings (tie allowed and no tie) with bootstrap intervals, plus online Elo; with
    --style-control, the style-controlled ratings, coefficients and rank changes beside them."""
    import json

    from chatrecipe.data.records import read_jsonl
    from chatrecipe.evaluate.battle_files import read_battles
    from chatrecipe.evaluate.elo import BattleError, leaderboard, select_battles
    from chatrecipe.report.sections.elo import elo_section, elo_tables

    rows, rejected = read_battles(battles)  # Arena battles, or judgments in chatrecipe/FastChat/AlpacaEval layout
    show_rejected(rejected)
    rows = select_battles(rows, category, judge_prefix)
    board, styled = leaderboard(rows, bootstrap=bootstrap, anchor=anchor), None
    if style and "error" not in board:
        from chatrecipe.evaluate.style_control import style_control

        try:
            styled = style_control(rows, bootstrap, anchor=anchor, tokenizer=tokenizer, skip_missing=skip_missing,
                                   answers=[r for p in answers for r in read_jsonl(p)] if answers else None)
        except BattleError as exc:
            fail(str(exc))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        section, _ = elo_section(board, out, source="the battle files", plot_prefix="", style=styled)
        write_section_outputs(section, out, "elo")
    if as_json:
        print(json.dumps({**board, "style_control": styled} if style else board, default=str))
    else:
        echo_tables(*elo_tables(board, styled))
    if "error" in board:
        fail(f"nothing could be rated: {board['error']}")
    if rejected:
        fail(f"{len(rejected)} rows could not be read (listed above)", 1)


@app.command()
def audit(
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

    from chatrecipe.data.records import read_jsonl
    from chatrecipe.evaluate.audit import audit_figures, read_inputs

    if experiments:
        if not all((judge, questions, answers_a, answers_b, output)):
            fail("--experiments needs --judge, --questions, --answers-a, --answers-b and -o")
        from chatrecipe.backends import load_backend
        from chatrecipe.evaluate.judge_experiments import debiasing_experiment, injection_experiment

        backend = load_backend(judge, cache_dir=output / "cache")
        qs, a, b = read_jsonl(questions), read_jsonl(answers_a), read_jsonl(answers_b)
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


# --- rm (evaluate/rm_bench.py) ---


@app.command("rm")
def rm_bench(
    test_sets: List[str] = typer.Argument(..., help="Preference test sets: files in the preference record format "
                                          "(`chatrecipe data convert` makes them from HH-RLHF, SHP, ...) or shipped "
                                          "sets such as rm:helpful.jsonl."),
    scorer: List[str] = typer.Option([], "--scorer", help="Repeatable: a reward model (folder or rm:MODEL), "
                                     "dpo:POLICY (with --reference), judge:MODEL, or length / random (the "
                                     "baselines, always added)."),
    reference: Optional[str] = typer.Option(None, help="Reference model for dpo: scorers (the model DPO started "
                                            "from)."),
    output: Path = typer.Option(Path("rm-bench"), "-o", "--output", help="Folder of rm_bench.json (rows are merged "
                                "into an existing leaderboard) and rm_bench.rejected.jsonl."),
    batch_size: int = typer.Option(8, help="Sequences per forward pass (length-sorted batches)."),
    dtype: str = typer.Option("float32", help="float32 or bfloat16 (recorded in each row)."),
    max_length: Optional[int] = typer.Option(None, help="Tokens at most per sequence (default: the model's "
                                             "context); longer pairs are reported, never truncated."),
    seed: int = typer.Option(0, help="Seed of the random baseline."),
    prefill: bool = typer.Option(False, help="Prefill the judge's verdict marker (small local judges)."),
    as_json: bool = typer.Option(False, "--json"),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Reward-model accuracy on preference test sets, per set and averaged, beside the length and random baselines."""
    apply_allow_pickle(allow_pickle)
    import json

    from chatrecipe.evaluate.rm_bench import format_table, run_bench
    from chatrecipe.train.reward_scoring import RewardScoringError

    try:
        results = run_bench(test_sets, scorer, output, batch_size=batch_size, dtype=dtype, max_length=max_length,
                            reference=reference, seed=seed, prefill=prefill)
    except (RewardScoringError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(results, default=str))
        return
    typer.echo(format_table(results))
    problems = {k: sum(r[k] for r in results["rows"]) for k in ("ties", "failed")}
    rejected = sum(s["rejected"] for s in results["test_sets"].values())
    typer.echo(f"wrote {output / 'rm_bench.json'}; {problems['ties']} ties, {problems['failed']} pairs not scored, "
               f"{rejected} invalid rows" + (f" (reasons in {output / 'rm_bench.rejected.jsonl'})"
                                             if problems["failed"] or rejected else ""))


# --- redteam (evaluate/redteam.py) ---


@app.command()
def redteam(
    model: List[str] = typer.Option(..., "--model", help="Model to red-team, as NAME=REF or REF (repeat for "
                                    "checkpoints: --model base=... --model dpo=...)."),
    judge: Optional[str] = typer.Option(None, help="Labelling judge model (local path or openai:<model>)."),
    labeler: Optional[str] = typer.Option(None, help="'judge' (default with --judge) or 'refusal-keywords' "
                                          "(offline; attack success becomes an upper bound)."),
    prompts: List[str] = typer.Option(["redteam:default"], "--prompts", help="Red-team prompt files (JSONL; "
                                      "repeatable); redteam:default is the shipped set."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for redteam.json and the labelled responses."),
    attacker: Optional[str] = typer.Option(None, help="Model that writes new attack prompts from the successful "
                                           "ones (red-teaming loop)."),
    rounds: int = typer.Option(0, help="Attacker rounds (1 when --attacker is given without it)."),
    variants: int = typer.Option(3, help="New prompts per successful prompt and round."),
    max_seeds: int = typer.Option(20, help="Most successful prompts to build on per round."),
    per_group: Optional[int] = typer.Option(None, help="At most this many prompts per (category, wrapper, "
                                            "benign) group: a small run that covers every category."),
    category: Optional[List[str]] = typer.Option(None, "--category", help="Only these categories."),
    max_new_tokens: int = typer.Option(256), temperature: float = typer.Option(0.0), seed: int = typer.Option(0),
    batch_size: int = typer.Option(8), dtype: Optional[str] = typer.Option(None),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for openai:<model> refs."),
    judge_prompt: str = typer.Option("redteam-label", help="Judge template name or .txt path."),
    prefill: bool = typer.Option(False, help="Prefill 'Label: [[' (small local judges)."),
    max_cost: Optional[float] = typer.Option(None, help="Stop before API spending would pass this many dollars."),
    as_json: bool = typer.Option(False, "--json"),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Attack success rate per category and jailbreak wrapper, and over-refusal on benign look-alikes, with
    Wilson intervals, for one or more checkpoints; responses labelled refusal / safe / harmful."""
    apply_allow_pickle(allow_pickle)
    import json

    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.evaluate.redteam.rates import format_rates
    from chatrecipe.evaluate.redteam.run import RedteamArgs, RedteamError, run_redteam
    from chatrecipe.evaluate.redteam.prompts import RedteamPromptError

    models = dict(m.split("=", 1) if "=" in m else (Path(m).name or m, m) for m in model)
    try:
        settings = RedteamArgs(labeler=labeler, prompts=prompts, judge_prompt=judge_prompt, attacker=attacker,
                               rounds=rounds, variants=variants, max_seeds=max_seeds, per_group=per_group,
                               params=GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature,
                                                       seed=seed),
                               categories=category, batch_size=batch_size, dtype=dtype, base_url=base_url,
                               prefill=prefill, max_cost=max_cost)
        result = run_redteam(models, judge, output, settings)
    except (RedteamError, RedteamPromptError) as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(result, default=str))
        return

    typer.echo(format_rates(result))
    typer.echo(f"wrote {output / 'redteam.json'} and {output / 'redteam-labels.jsonl'}")


# --- bench (evaluate/lm_bench.py) ---


@app.command("bench")
def bench(
    model: str = typer.Argument(..., help="Model to evaluate: a folder (adapters too), the embedded default, a hub "
                                "id."),
    task: List[str] = typer.Option(["arc", "hellaswag", "mmlu", "truthfulqa"], "--task", help="arc, hellaswag, mmlu, "
                                   "truthfulqa (Open LLM Leaderboard settings) or any lm-eval task name; repeatable."),
    output: Path = typer.Option(Path("lm-bench"), "-o", "--output", help="Folder of lm_bench.json (rows merged "
                                "across runs) and lm_bench_raw/."),
    data_dir: Optional[Path] = typer.Option(None, help="Local dataset copies laid out as DIR/<hub name> (offline)."),
    tasks_dir: Optional[Path] = typer.Option(None, help="Folder of your own lm-eval task YAML files."),
    chat_template: bool = typer.Option(True, help="Apply the model's chat template (instruct models); few-shot "
                                       "examples become turns."),
    num_fewshot: Optional[int] = typer.Option(None, help="Override the few-shot count of every task."),
    limit: Optional[float] = typer.Option(None, help="Items per task (a quick look; results are not comparable)."),
    batch_size: int = typer.Option(8),
    dtype: str = typer.Option("float32", help="float32 or bfloat16 (recorded in each row)."),
    log_samples: bool = typer.Option(False, help="Keep every prompt and answer in lm_bench_raw/."),
    download: bool = typer.Option(False, help="Let lm-eval download datasets missing from --data-dir and the "
                                  "Hugging Face cache (needs the network; off by default, so an offline machine "
                                  "fails at once with the download hint)."),
    as_json: bool = typer.Option(False, "--json"),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Standard benchmarks (ARC, HellaSwag, MMLU, TruthfulQA) through lm-evaluation-harness; needs chatrecipe[bench]."""
    apply_allow_pickle(allow_pickle)
    import json

    from chatrecipe.evaluate.lm_bench import BenchError, format_rows, row_key, run_benchmarks

    try:
        board = run_benchmarks(model, task, output, data_dir=data_dir, tasks_dir=tasks_dir,
                               chat_template=chat_template, num_fewshot=num_fewshot,
                               limit=int(limit) if limit and limit >= 1 else limit, batch_size=batch_size,
                               dtype=dtype, log_samples=log_samples, download=download)
    except BenchError as exc:
        fail(str(exc))
    mine = [r for r in board["rows"] if row_key(r) in set(board["this_run"])]
    if as_json:
        print(json.dumps(mine, default=str))
        return
    typer.echo(format_rows(mine))
    typer.echo(f"wrote {output / 'lm_bench.json'}")
