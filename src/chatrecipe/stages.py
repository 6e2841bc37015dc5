"""What each stage of `chatrecipe run` does: read its recipe section, call the module that does the work, say what it made.

Each `run_<stage>(run)` takes the pipeline's `Run` (recipe, run folder, earlier artifacts) and returns
`{"metrics": {...}, "artifacts": {...}}`. Artifacts are paths later stages read (the SFT model, the answers
files); they are recorded in the stage's marker, so a skipped stage still hands them on. Heavy libraries are
imported inside the functions: `chatrecipe --help` never pays for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from chatrecipe.data.resources import resource_path
from chatrecipe.models import EMBEDDED
from chatrecipe.recipe import SECTIONS, RecipeError, parse_section

@dataclass
class ModelArgs:
    """The `model` section: the model every stage starts from."""

    name: str = EMBEDDED
    """Model reference: the embedded default, a folder, a .gguf file or a hub id."""


@dataclass
class DataArgs:
    """The `data` section: which files to train on and how to clean them."""

    sft_files: list[str] = field(default_factory=lambda: ["starter:sft.jsonl"])
    """Conversation files (any format `chatrecipe data convert` reads); `starter:` names the shipped set."""
    preference_files: list[str] = field(default_factory=lambda: ["starter:preferences.jsonl"])
    """Preference files for the reward model and DPO."""
    eval_questions: str = "questions:chatrecipe-eval.jsonl"
    """Held-out questions (MT-Bench format) answered and judged in evaluation; also checked for contamination."""
    size: Optional[int] = None
    """Keep this many SFT conversations (seeded sample); for dataset-size ablations with --sweep."""
    target_mix: Optional[str] = "instructgpt"
    """Task mix to compare the SFT data against (instructgpt, surge10k, h4-preferences, or a YAML path)."""
    dedup: bool = True
    """Remove exact and near duplicates (MinHash LSH)."""
    decontaminate: bool = True
    """Remove training records that share an n-gram with the evaluation questions."""
    ngram: int = 13
    """n for decontamination."""
    max_tokens: Optional[int] = 2048
    """Drop examples longer than this many tokens in total."""
    classify: bool = False
    """Label records that have no task category (offline embedding classifier) before the task table."""


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


@dataclass
class EvalArgs:
    """The `eval` section: which leaderboards and audits to compute from the judgments."""

    winrate: bool = True
    elo: bool = True
    bootstrap: int = 1000
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


@dataclass
class ReportArgs:
    """The `report` section."""

    title: Optional[str] = None


OWN_SECTIONS = {"model": (ModelArgs,), "data": (DataArgs,), "generate": (GenerateArgs,), "judge": (JudgeArgs,),
                "eval": (EvalArgs,), "report": (ReportArgs,)}


def _training_classes(name: str) -> tuple:
    from chatrecipe.train import config_classes

    return config_classes(name)


def section_classes(name: str) -> tuple:
    """The dataclasses a recipe section is parsed with."""
    if name in OWN_SECTIONS:
        return OWN_SECTIONS[name]
    if name in ("sft", "rm", "dpo", "rl"):
        return _training_classes(name)
    if name == "synth":
        from chatrecipe.synth.args import SynthArgs

        return (SynthArgs,)
    raise RecipeError(f"unknown section {name!r}; sections are {', '.join(SECTIONS)}")


def check_section(name: str, recipe: dict) -> tuple:
    """Parse one section with its stage's classes (raises RecipeError naming a bad key before any work)."""
    section = recipe.get(name)
    if name in ("sft", "rm", "dpo", "rl"):
        from chatrecipe.train.args import with_defaults

        section = with_defaults(name, section)  # exactly what the trainer will be given
    return parse_section(section, *section_classes(name), where=name)


def _model(run) -> ModelArgs:
    return check_section("model", run.recipe)[0] if "model" in run.recipe else ModelArgs()


# --- data -------------------------------------------------------------------------------------------------


def run_synth(run) -> dict:
    from chatrecipe.synth.stage import run_stage

    summary = run_stage(run.section("synth"), output_dir=run.stage_dir("synth"), seed=run.seed)
    return {"metrics": summary.get("metrics", summary), "artifacts": summary.get("artifacts", {})}


def run_data(run) -> dict:
    from chatrecipe.stage_data import prepare_data

    (args,) = check_section("data", run.recipe)
    extra_sft = [run.artifacts["synth_sft"]] if run.artifacts.get("synth_sft") else []
    extra_pref = [run.artifacts["synth_preferences"]] if run.artifacts.get("synth_preferences") else []
    return prepare_data(args, model=_model(run).name, output_dir=run.stage_dir("data"), seed=run.seed,
                        extra_sft=extra_sft, extra_preferences=extra_pref, resolve=resource_path)


# --- training ---------------------------------------------------------------------------------------------


def _trained(metrics: dict, output_dir: Path, key: str) -> dict:
    return {"metrics": metrics, "artifacts": {key: str(output_dir / "final")}}


def run_sft(run) -> dict:
    from chatrecipe.train import sft

    out = run.stage_dir("sft")
    metrics = sft.run(run.section("sft"), model=_model(run).name, train_files=[run.artifacts["sft_data"]],
                      output_dir=out, seed=run.seed)
    return _trained(metrics, out, "sft_model")


def run_rm(run) -> dict:
    from chatrecipe.train import reward

    out = run.stage_dir("rm")
    base = run.artifacts.get("sft_model") or _model(run).name
    metrics = reward.run(run.section("rm"), model=base, train_files=[run.artifacts["preference_data"]],
                         output_dir=out, seed=run.seed)
    return _trained(metrics, out, "reward_model")


def run_dpo(run) -> dict:
    from chatrecipe.train import dpo

    out = run.stage_dir("dpo")
    start = run.artifacts.get("sft_model") or _model(run).name
    metrics = dpo.run(run.section("dpo"), model=start, train_files=[run.artifacts["preference_data"]],
                      output_dir=out, seed=run.seed)
    return _trained(metrics, out, "dpo_model")


def run_rl(run) -> dict:
    from chatrecipe.train import rl

    if not run.artifacts.get("reward_model"):
        raise RecipeError("rl: needs a reward model; add an `rm:` section before `rl:`")
    out = run.stage_dir("rl")
    start = run.artifacts.get("sft_model") or _model(run).name
    metrics = rl.run(run.section("rl"), model=start, reward_model=run.artifacts["reward_model"],
                     prompt_files=[run.artifacts["preference_data"]], output_dir=out, seed=run.seed)
    return _trained(metrics, out, "rl_model")


# --- evaluation -------------------------------------------------------------------------------------------


def checkpoints(run) -> dict[str, str]:
    """Model name -> model reference for every checkpoint of the run (base first)."""
    found = {"base": _model(run).name}
    for name in ("sft", "dpo", "rl"):
        if run.artifacts.get(f"{name}_model"):
            found[name] = run.artifacts[f"{name}_model"]
    return found


def run_generate(run) -> dict:
    from chatrecipe.stage_eval import generate_all

    (args,) = check_section("generate", run.recipe)
    return generate_all(run, args, checkpoints(run))


def run_judge(run) -> dict:
    from chatrecipe.stage_eval import judge_all

    (args,) = check_section("judge", run.recipe)
    return judge_all(run, args)


def run_eval(run) -> dict:
    from chatrecipe.stage_eval import evaluate_all

    (args,) = check_section("eval", run.recipe)
    (generate,) = check_section("generate", run.recipe) if "generate" in run.recipe else (GenerateArgs(),)
    return evaluate_all(run, args, checkpoints(run), generate)


def run_report(run) -> dict:
    from chatrecipe.report.build import build_report

    (args,) = check_section("report", run.recipe)
    paths = build_report([run.run_dir], run.run_dir / "report", title=args.title)
    return {"metrics": {}, "artifacts": {"report_html": str(paths["html"])}}


def report_sweep(run_dirs: list[Path], output: Path) -> None:
    from chatrecipe.report.build import build_report

    build_report(run_dirs, output, title="Ablation sweep")
