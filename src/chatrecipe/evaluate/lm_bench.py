"""`chatrecipe eval bench`: the standard benchmarks (ARC, HellaSwag, MMLU, TruthfulQA) through lm-evaluation-harness.

Run as: `chatrecipe eval bench runs/demo/dpo/final --task truthfulqa --data-dir ~/hf-datasets -o runs/demo/eval`.

The recipe tracked these four beside its own evaluations (TruthfulQA was the one that separated SFT runs), with
the Open LLM Leaderboard's settings: ARC-Challenge 25-shot and HellaSwag 10-shot (normalised accuracy), MMLU
5-shot and TruthfulQA MC2 0-shot. lm-evaluation-harness (`pip install 'chatrecipe[bench]'`) does the work; this
module loads the model the way every chatrecipe stage does (adapters, the embedded default), applies the chat
template as instruct models need (lm-eval's `apply_chat_template`, few-shot examples as turns), and writes
`<output>/lm_bench.json`: one row per model, revision, dtype and task, merged across runs, with provenance.

Offline by default: datasets come from `--data-dir DIR`, local copies laid out as the hub names them
(`DIR/allenai/ai2_arc`, `DIR/cais/mmlu`, ...; `huggingface-cli download --repo-type dataset NAME --local-dir
DIR/NAME` where there is network), or from the Hugging Face cache. `datasets.load_dataset(NAME)` reads a local
folder of that relative name before it would ask the hub, so lm-eval runs with DIR as its working folder and hub
access switched off; a missing dataset then fails at once with that hint, instead of the hub client retrying for
minutes on a machine without network. `download=True` (`--download`) lets lm-eval fetch what is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

from chatrecipe.evaluate.model_revision import model_revision

RESULT_FILE = "lm_bench.json"
# name: (lm-eval task, few-shot examples, headline metric), the Open LLM Leaderboard (v1) settings
SUITE = {
    "arc": ("arc_challenge", 25, "acc_norm"),
    "hellaswag": ("hellaswag", 10, "acc_norm"),
    "mmlu": ("mmlu", 5, "acc"),
    "truthfulqa": ("truthfulqa_mc2", 0, "acc"),
}


class BenchError(RuntimeError):
    """A benchmark that cannot run (lm-eval missing, dataset not available offline); says what to do."""


def resolve_task(name: str, num_fewshot: int | None) -> tuple[str, int | None, str | None]:
    """(lm-eval task, shots, headline metric) for a suite name or any lm-eval task name."""
    task, shots, metric = SUITE.get(name, (name, None, None))
    return task, num_fewshot if num_fewshot is not None else shots, metric


@contextlib.contextmanager
def local_datasets(data_dir: Path | None, download: bool = False):
    """Run with `data_dir` (if any) as the working folder and hub access off, so hub names resolve to local copies
    or the cache; `download` leaves hub access on.

    The offline switches are read when `datasets` and `huggingface_hub` are imported, so they are set on the
    imported modules (and restored afterwards), not only in the environment.
    """
    if data_dir is not None and not data_dir.is_dir():
        raise BenchError(f"--data-dir {data_dir}: no such folder")
    import datasets.config
    import huggingface_hub.constants

    switches = [] if download else [(datasets.config, "HF_HUB_OFFLINE"), (datasets.config, "HF_DATASETS_OFFLINE"),
                                    (huggingface_hub.constants, "HF_HUB_OFFLINE")]
    saved = [getattr(module, name) for module, name in switches]
    previous_dir = os.getcwd()
    for module, name in switches:
        setattr(module, name, True)
    if data_dir is not None:
        os.chdir(data_dir)
    try:
        yield
    finally:
        os.chdir(previous_dir)
        for (module, name), value in zip(switches, saved):
            setattr(module, name, value)


def task_manager(tasks: list[str], tasks_dir: Path | None):
    """lm-eval's task index: only `tasks_dir` when it defines every task asked for (indexing lm-eval's several
    thousand built-in YAML files takes seconds), else the built-ins too."""
    from lm_eval.tasks import TaskManager

    if tasks_dir is not None:
        local = TaskManager(include_path=str(tasks_dir), include_defaults=False)
        if all(t in local.all_tasks for t in tasks):
            return local
    manager = TaskManager(include_path=str(tasks_dir) if tasks_dir else None)
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise BenchError(f"unknown lm-eval task(s) {', '.join(unknown)}: use {', '.join(SUITE)} or an lm-eval task "
                         "name (`lm-eval ls tasks`), or pass --tasks-dir with your own task YAML")
    return manager


def _headline(task_results: dict, metric: str | None) -> tuple[str, float | None, float | None, dict]:
    """The metric to show, its value and standard error, and every metric of the task."""
    metrics = {k.split(",")[0]: v for k, v in task_results.items()
               if "," in k and "_stderr" not in k and isinstance(v, (int, float))}
    stderrs = {k.split(",")[0].replace("_stderr", ""): v for k, v in task_results.items() if "_stderr," in k}
    name = metric if metric in metrics else next(iter(metrics), None)
    stderr = stderrs.get(name)
    return name, metrics.get(name), stderr if isinstance(stderr, (int, float)) else None, metrics


def run_benchmarks(model_ref: str, tasks: list[str], output_dir: str | Path, *, data_dir: Path | None = None,
                   tasks_dir: Path | None = None, chat_template: bool = True, num_fewshot: int | None = None,
                   limit: int | float | None = None, batch_size: int = 8, dtype: str = "float32",
                   log_samples: bool = False, download: bool = False) -> dict:
    """Evaluate one model on `tasks` and merge its rows into `<output_dir>/lm_bench.json`; returns the file."""
    try:
        import lm_eval
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM
    except ImportError as exc:
        raise BenchError("the standard benchmarks need lm-evaluation-harness: pip install 'chatrecipe[bench]'") \
            from exc
    import transformers

    from chatrecipe.models import load_model, load_tokenizer

    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir).expanduser().resolve() if data_dir else None
    tasks_dir = Path(tasks_dir).expanduser().resolve() if tasks_dir else None
    plan = [(name, *resolve_task(name, num_fewshot)) for name in tasks]
    manager = task_manager([task for _, task, _, _ in plan], tasks_dir)
    model = load_model(model_ref, dtype=dtype)
    tokenizer = load_tokenizer(model_ref)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    revision = model_revision(model_ref)
    rows, raw = [], {}
    for name, task, shots, metric in plan:
        started = time.time()
        with local_datasets(data_dir, download):
            try:
                result = simple_evaluate(model=lm, tasks=[task], num_fewshot=shots, task_manager=manager, limit=limit,
                                         apply_chat_template=chat_template, fewshot_as_multiturn=chat_template,
                                         log_samples=log_samples, bootstrap_iters=1000)
            except (FileNotFoundError, ConnectionError, OSError, ValueError) as exc:
                raise BenchError(
                    f"{name} ({task}) could not load its dataset: {exc}. Download it where there is network "
                    "(`huggingface-cli download --repo-type dataset NAME --local-dir DIR/NAME`, NAME as in the task's "
                    "dataset_path) and pass --data-dir DIR, or pass --download to let lm-eval fetch it") from exc
        metric_name, value, stderr, metrics = _headline(result["results"].get(task, {}), metric)
        config = result.get("configs", {}).get(task) or {}
        rows.append({"model": model_ref, "revision": revision, "dtype": dtype, "benchmark": name, "task": task,
                     "metric": metric_name, "value": value, "stderr": stderr, "metrics": metrics,
                     "num_fewshot": result.get("n-shot", {}).get(task, shots), "chat_template": chat_template,
                     "n": sum(v.get("effective", 0) for v in result.get("n-samples", {}).values()), "limit": limit,
                     "provenance": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "batch_size": batch_size,
                                    "lm_eval_version": lm_eval.__version__,
                                    "transformers_version": transformers.__version__,
                                    "task_versions": result.get("versions", {}),
                                    "task_config_hash": hashlib.sha256(json.dumps(config, sort_keys=True, default=str)
                                                                       .encode()).hexdigest()[:12] if config else None,
                                    "dataset_path": config.get("dataset_path"),
                                    "data_dir": str(data_dir) if data_dir else None,
                                    "seconds": round(time.time() - started, 1)}})
        raw[name] = {k: v for k, v in result.items() if k != "samples"}
        if log_samples:
            raw[name]["samples"] = result.get("samples", {})
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_ref.strip("/"))[-80:]
    (output_dir / "lm_bench_raw").mkdir(exist_ok=True)
    (output_dir / "lm_bench_raw" / f"{safe}-{revision}.json").write_text(json.dumps(raw, indent=1, default=str))
    return merge_results(output_dir, rows)


def row_key(row: dict) -> tuple:
    return row["model"], row["revision"], row["dtype"], row["task"], row["num_fewshot"], row["chat_template"]


def merge_results(output_dir: Path, rows: list[dict]) -> dict:
    """Add or replace rows in `lm_bench.json` (one leaderboard across models, revisions and runs)."""
    path = output_dir / RESULT_FILE
    board = json.loads(path.read_text()) if path.is_file() else {"rows": []}
    merged = {row_key(r): r for r in board["rows"]}
    merged.update({row_key(r): r for r in rows})
    board["rows"] = sorted(merged.values(), key=lambda r: (r["benchmark"], r["model"], str(r["revision"])))
    path.write_text(json.dumps(board, indent=1, default=str))
    board["this_run"] = [row_key(r) for r in rows]
    return board


def format_rows(rows: list[dict]) -> str:
    """One line per result: model, benchmark, metric, value with standard error, shots, samples."""
    lines = []
    for r in rows:
        value = "n/a" if r["value"] is None else f"{100 * r['value']:.1f}"
        stderr = f" ± {100 * r['stderr']:.1f}" if r.get("stderr") is not None else ""
        template = "on" if r["chat_template"] else "off"
        lines.append(f"{r['model'][-40:]:<40} {r['benchmark']:<12} {str(r['metric']):<9} {value}{stderr}  "
                     f"({r['num_fewshot']}-shot, {r['n']} items, chat template {template})")
    return "\n".join(lines)
