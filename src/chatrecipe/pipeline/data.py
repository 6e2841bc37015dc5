"""The `data` section of a recipe: load, validate, clean and describe the training data before any training.

Order matters and follows the recipe: validate (reject with reasons), deduplicate, remove what overlaps the
evaluation questions ("doping" between training and eval), filter by length, optionally subsample (for
dataset-size ablations), then describe what is left — the length table per source and the task distribution
against a target mix — beside a count of what each step removed, with every removed record kept with its reason.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from chatrecipe.data.records import load_records, write_records, write_rejected
from chatrecipe.data.resources import STARTER_NOTICE, resource_path, stage_files, training_files
from chatrecipe.pipeline.context import Run
from chatrecipe.recipe import RecipeError


@dataclass
class DataArgs:
    """The `data` section: which files to train on and how to clean them."""

    sft_files: Optional[list[str]] = None
    """Conversation files (any format `chatrecipe data convert` reads); `starter:sft.jsonl` names the shipped toy
    set, which is also used when the recipe names no data file at all (and only then)."""
    preference_files: Optional[list[str]] = None
    """Preference files for the reward model, DPO and RL prompts (`starter:preferences.jsonl`: the shipped toy set)."""
    eval_questions: str = "questions:chatrecipe-eval.jsonl"
    """Held-out questions (MT-Bench format) answered and judged in evaluation; also checked for contamination."""
    size: Optional[int] = None
    """Keep this many SFT conversations (seeded sample); for dataset-size ablations with --sweep. More than are left
    after cleaning is refused (the run would train on fewer than it says)."""
    target_mix: Optional[str] = "instructgpt"
    """Task mix to compare the SFT data against (instructgpt, surge10k, h4-preferences, or a YAML path)."""
    dedup: bool = True
    """Remove exact and near duplicates (MinHash LSH)."""
    decontaminate: bool = True
    """Remove training records that share an n-gram with the evaluation questions."""
    ngram: int = 13
    """n for decontamination."""
    max_tokens: Optional[int] = 2048
    """Drop examples longer than this many tokens in total (null: no length filter; the other filters still run)."""
    refusals: bool = True
    """Drop SFT demonstrations that are boilerplate refusals ("I'm sorry, but I can't ..."): they teach refusing. A
    preference pair is never judged by its chosen reply (a refused chosen reply is what harmlessness data teaches)."""
    pair_refusals: str = "off"
    """Preference pairs: off (keep every pair), both (drop pairs whose two replies refuse), rejected (also drop pairs
    whose rejected reply refuses)."""
    placeholders: bool = True
    """Drop examples with an empty or placeholder reply (N/A, TODO, ...)."""
    classify: bool = True
    """Label records that have no task category (offline embedding classifier) before the task table and the
    mix; false leaves them "other", and the report's task table then says it is uninformative."""
    convert_options: dict = field(default_factory=dict)
    """Options for the input formats that take them, e.g. {attribute: correctness} pairs HelpSteer2 by correctness."""


def run_stage(run: Run) -> dict:
    """The data stage of `chatrecipe run`: the recipe's files plus what a synth stage made."""
    (args,) = run.settings("data", DataArgs)
    sft, preferences, starter = training_files(
        args.sft_files, args.preference_files,
        [run.artifacts["synth_sft"]] if run.artifacts.get("synth_sft") else [],
        [run.artifacts["synth_preferences"]] if run.artifacts.get("synth_preferences") else [])
    for stage in ("sft", "rm", "dpo", "rl"):
        if stage in run.recipe:
            try:
                stage_files(stage, sft, preferences)
            except ValueError as exc:
                raise RecipeError(str(exc)) from None
    if starter:
        from rich.console import Console

        Console(stderr=True).print(f"[yellow]warning:[/] {STARTER_NOTICE}")
    return prepare_data(args, model=run.model, output_dir=run.stage_dir("data"), seed=run.seed, sft_files=sft,
                        preference_files=preferences, starter=starter)


def _load(paths: list[Path], kind: str, options: dict) -> tuple[list[dict], list[dict], dict]:
    """(records, rejected, rows per input format) of one set's files."""
    from chatrecipe.data.convert import convert

    records, rejected, formats = [], [], {}
    for path in paths:
        result = convert([path], options=options)
        if result.kind != kind:
            raise ValueError(f"{path}: holds {result.kind} records ({result.reason}), expected {kind}")
        records += result.records
        rejected += result.rejected
        for name, rows in result.formats.items():
            formats[name] = formats.get(name, 0) + rows
    return records, rejected, formats


def _classify(records: list[dict]) -> tuple[list[dict], int]:
    """Task categories for records without one, so the task table against the target mix means something."""
    from chatrecipe.data.classify import classify_missing

    result = classify_missing(records)
    return result.records, result.counts["classified"]


def _clean(records: list[dict], questions: list[dict], args, tokenizer, counts: dict,
           refusals: bool) -> tuple[list, list, dict]:
    """Dedup, decontaminate and length-filter one set; returns kept records, removed ones (with reasons), report."""
    from chatrecipe.data.decontaminate import decontaminate
    from chatrecipe.data.dedup import dedup
    from chatrecipe.data.filters import filter_records

    removed: list[dict] = []
    report: dict = {}
    if args.dedup:
        before = len(records)
        records, clusters = dedup(records)
        counts["duplicates"] = before - len(records)
        report["duplicate_clusters"] = clusters
    if args.decontaminate and questions:
        before = len(records)
        decontaminated = decontaminate(records, {"questions": questions}, n=args.ngram)
        records = decontaminated.clean
        counts["contaminated"] = before - len(records)
        report["contamination"] = decontaminated.matches
        report["contamination_checked"] = decontaminated.sets
    # every filter has its own switch: a length limit of null must not turn the content filters off with it
    filtered = filter_records(records, tokenizer=tokenizer, max_tokens=args.max_tokens,
                              refusals=refusals and args.refusals, pair_refusals=args.pair_refusals,
                              placeholders=args.placeholders)
    records = filtered.kept
    counts["filtered"] = len(filtered.rejected)
    counts["filtered_by"] = filtered.by_filter
    removed += filtered.rejected
    return records, removed, report


def prepare_data(args: DataArgs, *, model: str, output_dir: Path, seed: int, sft_files: list,
                 preference_files: list, starter: bool = False) -> dict:
    """Write data/sft.jsonl, data/preferences.jsonl, data/questions.jsonl, rejected files, stats and a report section."""
    from chatrecipe.data.stats import dataset_stats, write_stats
    from chatrecipe.models import load_tokenizer
    from chatrecipe.report.sections.data import data_section

    from chatrecipe.data.filters import PAIR_REFUSAL_MODES

    if args.pair_refusals not in PAIR_REFUSAL_MODES:
        raise RecipeError(f"data.pair_refusals: {args.pair_refusals!r} is not one of {', '.join(PAIR_REFUSAL_MODES)}")
    tokenizer = load_tokenizer(model)
    questions_path = resource_path(args.eval_questions)
    loaded_questions = load_records(questions_path, "question")
    questions = loaded_questions.records
    write_records(output_dir / "questions.jsonl", questions)
    write_rejected(output_dir / "questions.jsonl", loaded_questions.rejected)

    outputs, metrics, sections = {}, {}, []
    sets = {"sft": ("conversation", [resource_path(p) for p in sft_files]),
            "preferences": ("preference", [resource_path(p) for p in preference_files])}
    for name, (kind, paths) in sets.items():
        if not paths:
            continue
        records, rejected, formats = _load(paths, kind, args.convert_options)
        counts = {"loaded": len(records) + len(rejected), "rejected": len(rejected), "formats": formats}
        if args.classify:
            records, counts["classified"] = _classify(records)
        # a refusal is a bad demonstration but can be the right *chosen* answer of a preference pair
        records, removed, report = _clean(records, questions, args, tokenizer, counts, refusals=name == "sft")
        if name == "sft" and args.size and args.size > len(records):  # an ablation point that is not what it says
            raise RecipeError(f"data.size is {args.size} but only {len(records)} SFT conversations are left after "
                              f"cleaning (of {counts['loaded']} loaded: {len(rejected)} invalid, {len(removed)} "
                              "removed); lower data.size or add data")
        if name == "sft" and args.size and args.size < len(records):
            records = random.Random(seed).sample(records, args.size)
            counts["subsampled_to"] = args.size
        counts["kept"] = len(records)
        after = dataset_stats(records, tokenizer, target_mix=args.target_mix if name == "sft" else None)
        path = output_dir / f"{name}.jsonl"
        write_records(path, records)
        write_rejected(path, rejected + removed)
        (output_dir / f"{name}-cleaning.json").write_text(json.dumps(report, indent=1, default=str))
        plots = write_stats(after, output_dir / f"stats-{name}", label=name)
        outputs[name] = str(path)
        metrics[name] = counts
        sections.append((name, counts, after, [str(Path(p).relative_to(output_dir.parent)) for p in plots
                                                       if str(p).endswith(".png")]))
    section = data_section(sections, model, notice=STARTER_NOTICE if starter else None,
                           files={"sft": [str(p) for p in sft_files], "preferences": [str(p) for p in preference_files]})
    (output_dir / "report.json").write_text(json.dumps(section, indent=1, default=str))
    return {"metrics": metrics,
            "artifacts": {"starter_data": starter, "sft_data": outputs.get("sft"), "preference_data": outputs.get("preferences"),
                          "questions": str(output_dir / "questions.jsonl")}}

