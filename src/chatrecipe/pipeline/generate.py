"""The `generate` section of a recipe: every checkpoint of the run (base, sft, dpo, rl) answers the evaluation
questions, each with the chat template it was trained with. Answers are cached by content, so a rerun is free."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Optional

from chatrecipe.data.records import read_jsonl
from chatrecipe.pipeline.context import Run


@dataclass
class GenerateArgs:
    """The `generate` section: answering the evaluation questions with each checkpoint."""

    checkpoints: Optional[list[str]] = None
    """Which models answer: any of base, sft, dpo, rl (default: base and every trained one)."""
    max_new_tokens: int = 256
    batch_size: int = 8
    temperature: float = 0.0
    max_questions: Optional[int] = None
    """Answer only the first N questions (quick runs)."""
    dtype: Optional[str] = None
    """Weights dtype for generation: bfloat16 halves the time on CPUs with AVX512-BF16 and on GPUs."""


def settings(run: Run) -> GenerateArgs:
    """The run's generate settings (defaults when the recipe has no generate section: eval reads them too)."""
    return run.settings("generate", GenerateArgs)[0]


def questions(run: Run, limit: int | None = None) -> list[dict]:
    """The evaluation questions the data stage wrote (the first `limit` of them)."""
    found = read_jsonl(run.artifacts["questions"])
    return found[:limit] if limit else found


def run_stage(run: Run) -> dict:
    """Answers from every checkpoint (base, sft, dpo, rl) to the evaluation questions, with its own template."""
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.evaluate.generate import generate_answers

    args, checkpoints = settings(run), run.checkpoints()
    asked = questions(run, args.max_questions)
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
        records = generate_answers(backend, asked, path, params)
        backend.close()
        del backend
        gc.collect()
        answers[name] = str(path)
        lengths = [len(t) for r in records for t in r["turns"]]
        metrics[name] = {"answers": len(records), "mean_chars": round(sum(lengths) / max(len(lengths), 1), 1),
                         "empty": sum(1 for r in records for t in r["turns"] if not t.strip())}
    return {"metrics": metrics, "artifacts": {"answers": answers}}
