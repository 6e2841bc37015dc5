"""The `eval` section of a recipe: turn the run's judgments into results — MT-Bench grades, win rates, Elo /
Bradley-Terry, the judge audit — and optionally red-team, reward-model and standard benchmarks of its checkpoints.

Each builder computes with the evaluate modules, lays the result out with a report/sections formatter, and writes
the section to `eval/sections/*.json`; `eval/summary.json` collects the per-model headlines the cross-run
leaderboard reads.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from chatrecipe.data.records import read_jsonl
from chatrecipe.pipeline.context import Run
from chatrecipe.pipeline.generate import GenerateArgs, questions as run_questions
from chatrecipe.pipeline.generate import settings as generate_settings


@dataclass
class EvalArgs:
    """The `eval` section: which leaderboards and audits to compute from the judgments."""

    winrate: bool = True
    elo: bool = True
    bootstrap: int = 1000
    style_control: bool = False
    """Also the style-controlled ratings (Chatbot Arena's: answer length, headers, lists, bold as covariates) beside
    the plain ones, with the coefficients and rank changes; the answers' style is counted from the answer files."""
    style_tokenizer: Optional[str] = None
    """Tokenizer counting the answers' tokens for style control (a folder or cached name; default: words)."""
    audit: bool = True
    redteam: bool = False
    """Red-team every checkpoint: attack success per harm category and wrapper, over-refusal on look-alikes."""
    redteam_prompts: list[str] = field(default_factory=lambda: ["redteam:default"])
    """Red-team prompt files (the shipped set, or yours in the same format)."""
    redteam_judge: Optional[str] = None
    """Judge that labels refusal / safe / harmful; without one, refusal keywords label (an upper bound)."""
    redteam_per_group: Optional[int] = None
    """At most this many prompts per (category, wrapper, benign) group: 1 covers every group in 54 prompts."""
    redteam_max_new_tokens: int = 128
    """Length of each red-team answer."""
    rm_bench: bool = False
    """Score the run's reward model and DPO policy (implicit reward) on held-out preference sets."""
    rm_test_sets: list[str] = field(default_factory=lambda: ["rm:helpful.jsonl", "rm:truthful.jsonl",
                                                             "rm:summarize.jsonl", "rm:advice.jsonl"])
    """Preference test sets for `rm_bench` (shipped `rm:` sets or your files)."""
    bench_tasks: list[str] = field(default_factory=list)
    """Standard benchmarks through lm-evaluation-harness for every checkpoint (arc, hellaswag, mmlu, truthfulqa)."""
    bench_data_dir: Optional[str] = None
    """Local copies of the benchmark datasets (offline), laid out as DIR/<hub name>."""
    bench_limit: Optional[int] = None
    """Items per benchmark task (a quick look; not comparable with full runs)."""


def _write_section(run: Run, name: str, section: dict) -> None:
    folder = run.stage_dir("eval") / "sections"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(section, indent=1, default=str))


def _contamination_report(run: Run) -> list[dict] | None:
    """What the data stage's decontamination found (before it removed it), or None when it did not run."""
    found, ran = [], False
    for name in ("sft", "preferences"):
        path = Path(run.run_dir) / "data" / f"{name}-cleaning.json"
        if path.exists():
            report = json.loads(path.read_text())
            ran = ran or "contamination" in report
            found += report.get("contamination", [])
    return found if ran else None


def mt_bench(single: list[dict], questions: list[dict], out_dir: Path) -> tuple[dict, dict]:
    from chatrecipe.evaluate.mt_bench import radar_plot, single_scores
    from chatrecipe.report.sections.format import judgment_provenance
    from chatrecipe.report.sections.mt_bench import mt_bench_section

    table = single_scores(single, questions)
    radar = radar_plot(table, out_dir / "mt_bench_radar.png")
    return mt_bench_section(table, judgment_provenance(single), radar=f"eval/{radar.name}")


def winrate(pairwise: list[dict], answers: dict, seed: int) -> tuple[dict, dict]:
    from chatrecipe.evaluate.winrate import pairwise_win_rates
    from chatrecipe.report.sections.format import judgment_provenance
    from chatrecipe.report.sections.winrate import winrate_section

    return winrate_section(pairwise_win_rates(pairwise, answers, seed=seed), judgment_provenance(pairwise))


def elo(pairwise: list[dict], questions: list[dict], out_dir: Path, args: EvalArgs, seed: int,
        answers: dict | None = None) -> tuple[dict, dict]:
    """Ratings from the judge's combined verdicts, plain and (`style_control`) style-controlled; the battles are
    kept as a file other tools can rate. A battle whose answers are missing is listed, not fitted."""
    from chatrecipe.data.records import write_records
    from chatrecipe.evaluate.elo import BattleError, battles_from_judgments, leaderboard
    from chatrecipe.evaluate.style_control import style_control
    from chatrecipe.report.sections.elo import elo_section

    battles = battles_from_judgments(pairwise, questions)
    write_records(out_dir / "battles.jsonl", battles)
    board = leaderboard(battles, bootstrap=args.bootstrap, seed=seed)
    style = None
    if args.style_control and "error" not in board:
        try:
            style = style_control(battles, args.bootstrap, seed, answers=answers, tokenizer=args.style_tokenizer,
                                  skip_missing=True, plain=board["tie_allowed"])
        except BattleError as exc:  # e.g. no battle has both answers: the section says so, the run goes on
            style = {"error": str(exc)}
    return elo_section(board, out_dir, source="the judge's combined verdicts", style=style)


def audit(run: Run, args: EvalArgs, pairwise: list[dict], single: list[dict], answers: dict, questions: list[dict],
          checkpoints: dict[str, str]) -> tuple[dict, dict]:
    from chatrecipe.evaluate.audit import audit_figures, model_family
    from chatrecipe.report.sections.audit import audit_section

    judge = run.artifacts.get("judge_model")
    experiments_file = (run.artifacts.get("judgments") or {}).get("audit_experiments")
    # every checkpoint of a run is trained from the recipe's model, so all share its family
    families = {name: model_family(checkpoints["base"]) for name in checkpoints}
    figures = audit_figures(pairwise, single, answers, judge=judge, families=families, questions=questions,
                            contamination_report=_contamination_report(run),
                            experiments=json.loads(Path(experiments_file).read_text()) if experiments_file else None)
    judged = set(checkpoints.values()) | {m for j in pairwise for m in (j.get("model_a"), j.get("model_b"))}
    return audit_section(figures, run.stage_dir("eval"), judge=judge, judged=judged,
                         style_section=args.elo and args.style_control)


def redteam_all(run: Run, args: EvalArgs, checkpoints: dict[str, str], generate: GenerateArgs) -> tuple[dict, dict]:
    """Red-team every checkpoint with the same prompts and labeler; answers are cached, so a rerun is free."""
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.evaluate.redteam.run import RedteamArgs, run_redteam
    from chatrecipe.report.sections.redteam import redteam_section

    out_dir = run.stage_dir("eval")
    wanted = generate.checkpoints or list(checkpoints)
    settings = RedteamArgs(labeler=None if args.redteam_judge else "refusal-keywords", prompts=args.redteam_prompts,
                           per_group=args.redteam_per_group, batch_size=generate.batch_size, dtype=generate.dtype,
                           params=GenerationParams(max_new_tokens=args.redteam_max_new_tokens, seed=run.seed))
    result = run_redteam({name: checkpoints[name] for name in wanted if name in checkpoints}, args.redteam_judge,
                         out_dir / "redteam", settings)
    gc.collect()
    return redteam_section(result, out_dir=out_dir)


def rm_bench_all(run: Run, args: EvalArgs, generate: GenerateArgs) -> tuple[dict, dict]:
    """The run's reward model and DPO policy (its implicit reward against the SFT policy) on preference test sets,
    beside the length and random baselines."""
    from chatrecipe.report.sections.benchmarks import rm_bench_section
    from chatrecipe.evaluate.rm_bench import run_bench

    scorers, names = [], {}
    if run.artifacts.get("reward_model"):
        scorers.append("rm:" + run.artifacts["reward_model"])
        names[run.artifacts["reward_model"]] = "rm"
    reference = run.artifacts.get("sft_model") or run.model
    if run.artifacts.get("dpo_model"):
        scorers.append("dpo:" + run.artifacts["dpo_model"])
        names[run.artifacts["dpo_model"]] = "dpo"
    results = run_bench(args.rm_test_sets, scorers, run.stage_dir("eval") / "rm-bench", reference=reference,
                        batch_size=generate.batch_size, seed=run.seed)
    gc.collect()
    return rm_bench_section(results, names)


def lm_bench_all(run: Run, args: EvalArgs, checkpoints: dict[str, str],
                 generate: GenerateArgs) -> tuple[dict, dict]:
    """Standard benchmarks (lm-evaluation-harness) for every checkpoint, with its chat template."""
    from chatrecipe.report.sections.benchmarks import lm_bench_section
    from chatrecipe.evaluate.lm_bench import run_benchmarks

    out_dir = run.stage_dir("eval") / "lm-bench"
    wanted = generate.checkpoints or list(checkpoints)
    results = {"rows": []}
    for name in wanted:
        results = run_benchmarks(checkpoints[name], args.bench_tasks, out_dir, limit=args.bench_limit,
                                 data_dir=Path(args.bench_data_dir) if args.bench_data_dir else None,
                                 batch_size=generate.batch_size)
        gc.collect()
    return lm_bench_section(results, {ref: name for name, ref in checkpoints.items()})


def run_stage(run: Run) -> dict:
    """Every section the eval settings ask for and the files allow, and the per-model summary."""
    (args,) = run.settings("eval", EvalArgs)
    generate, checkpoints = generate_settings(run), run.checkpoints()
    out_dir = run.stage_dir("eval")
    questions = run_questions(run)
    judgments = run.artifacts.get("judgments") or {}
    pairwise = [j for path in (judgments.get("pairwise") or {}).values() for j in read_jsonl(path)]
    single = read_jsonl(judgments["single"]) if judgments.get("single") else []
    answers = {name: read_jsonl(path) for name, path in (run.artifacts.get("answers") or {}).items()}
    summary: dict = {name: {} for name in checkpoints}
    builders = []
    if single:
        builders.append(("50-mt-bench", lambda: mt_bench(single, questions, out_dir)))
    if pairwise and args.winrate:
        builders.append(("60-winrate", lambda: winrate(pairwise, answers, seed=run.seed)))
    if pairwise and args.elo:
        builders.append(("70-elo", lambda: elo(pairwise, questions, out_dir, args, seed=run.seed, answers=answers)))
    if pairwise and args.audit:
        builders.append(("80-audit", lambda: audit(run, args, pairwise, single, answers, questions, checkpoints)))
    if args.redteam:
        builders.append(("90-redteam", lambda: redteam_all(run, args, checkpoints, generate)))
    if args.rm_bench and (run.artifacts.get("reward_model") or run.artifacts.get("dpo_model")):
        builders.append(("85-rm-bench", lambda: rm_bench_all(run, args, generate)))
    if args.bench_tasks:
        builders.append(("87-lm-bench", lambda: lm_bench_all(run, args, checkpoints, generate)))
    metrics = {}
    for name, build in builders:
        section, per_model = build()
        _write_section(run, name, section)
        for model, values in per_model.items():
            summary.setdefault(model, {}).update(values)
        metrics[name] = section.get("metrics", {})
    found = {"models": summary}
    if pairwise:  # the report marks every judge-based figure with this verdict
        from chatrecipe.evaluate.audit import judge_verdict, position_bias

        found["judge_audit"] = {"judge": run.artifacts.get("judge_model"), **judge_verdict(position_bias(pairwise))}
    (out_dir / "summary.json").write_text(json.dumps(found, indent=1, default=str))
    return {"metrics": metrics, "artifacts": {"eval_summary": str(Path(out_dir) / "summary.json")}}
