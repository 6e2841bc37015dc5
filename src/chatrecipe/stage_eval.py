"""The evaluation stages of `chatrecipe run`: answer the questions, judge the answers, turn judgments into results.

Each function reads earlier artifacts from the run, calls the modules that do the work (backends, judges,
win rates, ratings, audit) and writes report sections (`eval/sections/*.json`) plus `eval/summary.json`, the
per-model headline numbers the cross-run leaderboard reads.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

from chatrecipe.data.records import read_jsonl


def _questions(run, limit: int | None = None) -> list[dict]:
    questions = read_jsonl(run.artifacts["questions"])
    return questions[:limit] if limit else questions


def generate_all(run, args, checkpoints: dict[str, str]) -> dict:
    """Answers from every checkpoint (base, sft, dpo, rl) to the evaluation questions, with its own template."""
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.evaluate.generate import generate_answers

    questions = _questions(run, args.max_questions)
    wanted = args.checkpoints or list(checkpoints)
    unknown = [c for c in wanted if c not in checkpoints]
    if unknown:
        raise ValueError(f"generate.checkpoints: {unknown} not in this run (it has {', '.join(checkpoints)})")
    out_dir = run.stage_dir("generate")
    params = GenerationParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=run.seed)
    answers, metrics = {}, {}
    for name in wanted:
        backend = load_backend(checkpoints[name], cache_dir=out_dir / "cache", batch_size=args.batch_size,
                               dtype=args.dtype, name=name)
        path = out_dir / f"{name}.jsonl"
        records = generate_answers(backend, questions, path, params)
        backend.close()
        del backend
        gc.collect()
        answers[name] = str(path)
        lengths = [len(t) for r in records for t in r["turns"]]
        metrics[name] = {"answers": len(records), "mean_chars": round(sum(lengths) / max(len(lengths), 1), 1),
                         "empty": sum(1 for r in records for t in r["turns"] if not t.strip())}
    return {"metrics": metrics, "artifacts": {"answers": answers}}


def judge_all(run, args) -> dict:
    """Pairwise verdicts (each trained checkpoint vs the baseline, both orders) and 1-10 grades for all."""
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.judge.pairwise import judge_pairwise
    from chatrecipe.judge.single import judge_single

    questions = _questions(run)
    answers = {name: read_jsonl(path) for name, path in run.artifacts["answers"].items()}
    asked = {a["question_id"] for recs in answers.values() for a in recs}
    questions = [q for q in questions if q["question_id"] in asked]
    out_dir = run.stage_dir("judge")
    from chatrecipe.backends.ledger import Ledger

    ledger = Ledger(max_cost=args.max_cost)
    judge = load_backend(args.model, cache_dir=out_dir / "cache", batch_size=args.batch_size, dtype=args.dtype,
                         ledger=ledger)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    files, metrics = {"pairwise": {}, "single": None}, {}
    if args.pairwise:
        if args.baseline not in answers:
            raise ValueError(f"judge.baseline {args.baseline!r} has no answers; answered: {', '.join(answers)}")
        for name in answers:
            if name == args.baseline:
                continue
            path = out_dir / f"pairwise-{name}-vs-{args.baseline}.jsonl"
            records = judge_pairwise(judge, questions, answers[name], answers[args.baseline], path,
                                     both_orders=args.both_orders, repeats=args.repeats, params=params,
                                     prefill=args.prefill)
            files["pairwise"][name] = str(path)
            metrics[f"pairwise_{name}"] = {"judgments": len(records),
                                           "failures": sum(1 for r in records if r.get("error"))}
    if args.single:
        path = out_dir / "single.jsonl"
        records = []
        for name in answers:
            records += judge_single(judge, questions, answers[name], path, repeats=args.repeats, params=params,
                                    prefill=args.prefill)
        files["single"] = str(path)
        metrics["single"] = {"judgments": len(records), "failures": sum(1 for r in records if r.get("error"))}
    if args.audit_experiments:
        from chatrecipe.evaluate.judge_experiments import debiasing_experiment, injection_experiment

        tuned = [name for name in answers if name != args.baseline][-1:]
        if tuned:
            sample = questions[:args.audit_questions]
            found = {"model": tuned[0], "baseline": args.baseline, "questions": len(sample),
                     "debiasing": debiasing_experiment(judge, sample, answers[tuned[0]], answers[args.baseline],
                                                       out_dir, params=params, prefill=args.prefill),
                     "injection": injection_experiment(judge, sample, answers[tuned[0]], out_dir, params=params,
                                                       prefill=args.prefill)}
            (out_dir / "audit-experiments.json").write_text(json.dumps(found, indent=1, default=str))
            files["audit_experiments"] = str(out_dir / "audit-experiments.json")
    judge.close()
    ledger.save(out_dir / "usage.json")
    metrics["usage"] = {"cost": ledger.total_cost, **{k: v for k, v in ledger.usage.items()}}
    return {"metrics": metrics, "artifacts": {"judgments": files, "judge_model": args.model}}


def _write_section(run, name: str, section: dict) -> None:
    folder = run.stage_dir("eval") / "sections"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(section, indent=1, default=str))


def _contamination_report(run) -> list[dict] | None:
    """What the data stage's decontamination found (before it removed it), or None when it did not run."""
    found, ran = [], False
    for name in ("sft", "preferences"):
        path = Path(run.run_dir) / "data" / f"{name}-cleaning.json"
        if path.exists():
            report = json.loads(path.read_text())
            ran = ran or "contamination" in report
            found += report.get("contamination", [])
    return found if ran else None


def redteam_all(run, args, checkpoints: dict[str, str], generate) -> tuple[dict, dict]:
    """Red-team every checkpoint with the same prompts and labeler; answers are cached, so a rerun is free."""
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.evaluate.redteam.run import run_redteam
    from chatrecipe.evaluate.redteam.section import redteam_section

    out_dir = run.stage_dir("eval")
    wanted = generate.checkpoints or list(checkpoints)
    result = run_redteam({name: checkpoints[name] for name in wanted if name in checkpoints}, args.redteam_judge,
                         out_dir / "redteam", labeler=None if args.redteam_judge else "refusal-keywords",
                         prompts=args.redteam_prompts, per_group=args.redteam_per_group,
                         batch_size=generate.batch_size, dtype=generate.dtype,
                         params=GenerationParams(max_new_tokens=args.redteam_max_new_tokens, seed=run.seed))
    gc.collect()
    return redteam_section(result, out_dir=out_dir)


def rm_bench_all(run, args, generate) -> tuple[dict, dict]:
    """The run's reward model and DPO policy (its implicit reward against the SFT policy) on preference test sets,
    beside the length and random baselines."""
    from chatrecipe.evaluate.benchmark_sections import rm_bench_section
    from chatrecipe.evaluate.rm_bench import run_bench

    scorers, names = [], {}
    if run.artifacts.get("reward_model"):
        scorers.append("rm:" + run.artifacts["reward_model"])
        names[run.artifacts["reward_model"]] = "rm"
    reference = run.artifacts.get("sft_model") or run.section("model").get("name")
    if run.artifacts.get("dpo_model"):
        scorers.append("dpo:" + run.artifacts["dpo_model"])
        names[run.artifacts["dpo_model"]] = "dpo"
    results = run_bench(args.rm_test_sets, scorers, run.stage_dir("eval") / "rm-bench", reference=reference,
                        batch_size=generate.batch_size, seed=run.seed)
    gc.collect()
    return rm_bench_section(results, names)


def lm_bench_all(run, args, checkpoints: dict[str, str], generate) -> tuple[dict, dict]:
    """Standard benchmarks (lm-evaluation-harness) for every checkpoint, with its chat template."""
    from chatrecipe.evaluate.benchmark_sections import lm_bench_section
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


def evaluate_all(run, args, checkpoints: dict[str, str], generate) -> dict:
    """Win rates, MT-Bench tables, Elo/Bradley-Terry, the judge audit and red-teaming, as report sections and a
    summary of per-model headlines."""
    from chatrecipe import eval_sections

    out_dir = run.stage_dir("eval")
    questions = _questions(run)
    judgments = run.artifacts.get("judgments") or {}
    pairwise = [j for path in (judgments.get("pairwise") or {}).values() for j in read_jsonl(path)]
    single = read_jsonl(judgments["single"]) if judgments.get("single") else []
    answers = {name: read_jsonl(path) for name, path in (run.artifacts.get("answers") or {}).items()}
    summary: dict = {name: {} for name in checkpoints}
    builders = []
    if single:
        builders.append(("50-mt-bench", lambda: eval_sections.mt_bench_section(single, questions, out_dir)))
    if pairwise and args.winrate:
        builders.append(("60-winrate", lambda: eval_sections.winrate_section(pairwise, answers, questions,
                                                                             out_dir, seed=run.seed)))
    if pairwise and args.elo:
        builders.append(("70-elo", lambda: eval_sections.elo_section(pairwise, questions, out_dir,
                                                                     bootstrap=args.bootstrap, seed=run.seed)))
    if pairwise and args.audit:
        from chatrecipe.evaluate.audit import model_family

        # every checkpoint of a run is trained from the recipe's model, so all share its family
        families = {name: model_family(checkpoints["base"]) for name in checkpoints}
        builders.append(("80-audit", lambda: eval_sections.audit_section(
            pairwise, single, answers, out_dir, judge=run.artifacts.get("judge_model"), checkpoints=checkpoints,
            judgments_files=judgments, families=families, contamination_report=_contamination_report(run),
            questions=questions)))
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
    (out_dir / "summary.json").write_text(json.dumps({"models": summary}, indent=1, default=str))
    return {"metrics": metrics, "artifacts": {"eval_summary": str(Path(out_dir) / "summary.json")}}
