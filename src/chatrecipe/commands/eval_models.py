"""`chatrecipe eval rm | redteam | bench`: the evaluations of the models themselves — reward-model accuracy on
preference test sets, red-teaming, and the standard benchmarks through lm-evaluation-harness. Part of the
`chatrecipe eval` group (commands/eval.py adds them)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.messages import fail, warn
from chatrecipe.commands.options import ALLOW_PICKLE, apply_allow_pickle

app = typer.Typer(add_completion=False)


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
    from chatrecipe.report.sections.benchmarks import scored_pair_warnings
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
    for row in results["rows"]:  # the report's warnings, on the console too
        for warning in scored_pair_warnings(row, row["model"]):
            warn(warning)
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
