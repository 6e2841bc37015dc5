"""The `synth` section of a recipe: self-instruct, roleplay and pairs in that order, into one folder the data stage
reads. `chatrecipe synth <method>` runs the same function with one method.

Writes `sft.jsonl` (self-instruct and roleplay conversations), `preferences.jsonl` (pairs), `tasks.jsonl`
(kept self-instruct tasks with instruction/input/output), `sft.rejected.jsonl` and `preferences.rejected.jsonl`
(every rejected item with its reason), `summary.json` (see synth/summary.py for its shape) and `cache/` (every answer, keyed by content:
a rerun after a crash asks nothing twice). Pairs use the self-instruct instructions and roleplayed dialogs as
prompts when those ran, so one recipe section bootstraps SFT and preference data together.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatrecipe.backends.base import Backend
from chatrecipe.backends.ledger import BudgetExceeded
from chatrecipe.pipeline.context import Run
from chatrecipe.report.sections.synth import write_synth_section
from chatrecipe.synth.args import parse_synth
from chatrecipe.synth.requests import Requester, SynthStopped
from chatrecipe.synth.summary import print_summary, write_summary


def run_stage(run: Run) -> dict:
    """The synth stage of `chatrecipe run`."""
    return synthesize(run.section("synth"), output_dir=run.stage_dir("synth"), seed=run.seed)


def synthesize(section: dict | None, *, output_dir: Path, seed: int = 42,
               backends: dict[str, Backend] | None = None) -> dict:
    """Run the methods the section names; returns `{"metrics": {...}, "artifacts": {...}}` for the pipeline.

    `backends` maps model references to ready backends (a ScriptedBackend in logic tests, an already loaded
    model); every other reference is loaded with `load_backend`. All of them are cached under `cache/`.
    """
    from chatrecipe.data.records import write_records, write_rejected

    args = parse_synth(section)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    requester = Requester(cache_dir=Path(args.cache_dir) if args.cache_dir else output_dir / "cache",
                          base_url=args.base_url, batch_size=args.batch_size, max_concurrency=args.max_concurrency,
                          dtype=args.dtype, max_cost=args.max_cost, max_failed_fraction=args.max_failed_fraction)
    for ref, backend in (backends or {}).items():
        requester.use(ref, backend)
    common = {"seed": seed, "language": args.language, "max_new_tokens": args.max_new_tokens}
    started = time.time()
    conversations, preferences, rejected, rejected_pairs, reports = [], [], [], [], {}
    try:
        if "self_instruct" in args.methods:
            from chatrecipe.synth.self_instruct import self_instruct

            made = self_instruct(args.methods["self_instruct"], requester, args.generator, **common)
            write_records(output_dir / "tasks.jsonl", made.tasks)
            conversations += made.conversations
            rejected += made.rejected
            reports["self_instruct"] = made.report
        if "roleplay" in args.methods:
            from chatrecipe.synth.roleplay import roleplay

            made = roleplay(args.methods["roleplay"], requester, args.generator, **common)
            conversations += made.conversations
            rejected += made.rejected
            reports["roleplay"] = made.report
        if "pairs" in args.methods:
            from chatrecipe.synth.pairs import make_pairs

            pairs_args = args.methods["pairs"]
            upstream = [c for c in conversations
                        if (c["source"] == "synth:self-instruct" and pairs_args.use_self_instruct)
                        or (c["source"] == "synth:roleplay" and pairs_args.use_roleplay)]
            made = make_pairs(pairs_args, requester, args.generator, output_dir=output_dir, upstream=upstream,
                              **common)
            preferences += made.pairs
            rejected_pairs += made.rejected
            reports["pairs"] = made.report
    except BudgetExceeded as exc:  # raised by the judge's own batches; the generator's come as SynthStopped
        raise SynthStopped(f"synth: {exc}") from exc
    finally:
        requester.close()
    outputs = {"synth_sft": None, "synth_preferences": None}
    if conversations:
        outputs["synth_sft"] = str(output_dir / "sft.jsonl")
        write_records(outputs["synth_sft"], conversations)
    if preferences:
        outputs["synth_preferences"] = str(output_dir / "preferences.jsonl")
        write_records(outputs["synth_preferences"], preferences)
    for name, lost in (("sft", rejected), ("preferences", rejected_pairs)):
        written = write_rejected(output_dir / f"{name}.jsonl", lost)
        outputs[f"rejected_{name}"] = str(written) if written else None
    summary = {"methods": reports, "usage": requester.usage(), "outputs": outputs,
               "seconds": round(time.time() - started, 2)}
    write_summary(output_dir / "summary.json", summary)
    write_synth_section(output_dir / "summary.json")  # the report's "Bootstrapped data" section
    print_summary(summary)
    return {"metrics": _metrics(summary),
            "artifacts": {k: v for k, v in outputs.items() if not k.startswith("rejected") and v}}


def _metrics(summary: dict) -> dict:
    """Flat numbers for the manifest: generated/kept/rejected per method, requests, tokens, cost."""
    metrics = {}
    for name, report in summary["methods"].items():
        metrics[f"{name}_generated"] = report["generated"]
        metrics[f"{name}_kept"] = report["kept"]
        metrics[f"{name}_rejected"] = sum(report["rejected"].values())
    usage = summary["usage"]
    metrics.update(requests=usage["requests"], cached=usage["cached"], failed=usage["failed"],
                   completion_tokens=usage["completion_tokens"], cost=usage["cost"], seconds=summary["seconds"])
    return metrics
