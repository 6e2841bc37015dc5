"""The `judge` section of a recipe: who judges the run's answers, and how — pairwise verdicts of each trained
checkpoint against the baseline in both orders, 1-10 grades for every checkpoint, and optionally the judge
experiments (a debiasing instruction, an injected answer) the audit reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from chatrecipe.data.records import read_jsonl
from chatrecipe.models import EMBEDDED
from chatrecipe.pipeline.context import Run
from chatrecipe.pipeline.generate import questions as run_questions


@dataclass
class JudgeArgs:
    """The `judge` section: who judges, and how."""

    model: str = EMBEDDED
    """Judge model reference (a local model, `openai:<model>` with OPENAI_BASE_URL, or `vllm:<model>`)."""
    pairwise: bool = True
    """Judge each trained checkpoint against `baseline`, in both answer orders."""
    single: bool = True
    """Grade every checkpoint's answers 1-10 (MT-Bench single-answer grading)."""
    baseline: str = "base"
    both_orders: bool = True
    prefill: bool = False
    """Start the judge's reply with "Verdict: [[" / "Rating: [[" so a small local judge commits to a verdict
    (local judges only; API endpoints do not continue a prefill)."""
    repeats: int = 1
    max_new_tokens: int = 256
    batch_size: int = 8
    dtype: Optional[str] = None
    """Weights dtype of a local judge (bfloat16 is about 2x faster on CPUs with AVX512-BF16)."""
    audit_experiments: bool = False
    """Also run the judge experiments (debiasing instruction, injection) on the last checkpoint vs the baseline."""
    audit_questions: int = 20
    """First turns of this many questions are used by each audit experiment (2 judge calls each)."""
    max_cost: Optional[float] = None
    """Stop before API spending would exceed this many dollars."""


def run_stage(run: Run) -> dict:
    """Pairwise verdicts (each trained checkpoint vs the baseline, both orders) and 1-10 grades for all."""
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.backends.ledger import Ledger
    from chatrecipe.judge.pairwise import judge_pairwise
    from chatrecipe.judge.single import judge_single

    (args,) = run.settings("judge", JudgeArgs)
    questions = run_questions(run)
    answers = {name: read_jsonl(path) for name, path in run.artifacts["answers"].items()}
    asked = {a["question_id"] for recs in answers.values() for a in recs}
    questions = [q for q in questions if q["question_id"] in asked]
    out_dir = run.stage_dir("judge")
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
