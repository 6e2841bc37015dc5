"""The runner of `chatrecipe run`: a recipe's stages in flow order, into one run folder, resumable.

Run as: `chatrecipe run recipes/demo.yaml [--set sft.num_train_epochs=1] [--from judge] [--only eval]`.

The run folder `runs/<name>/` holds `recipe.yaml` (resolved), `manifest.json` (versions, seed, per-stage status,
timings, metrics, artifacts) and one folder per stage. A stage ends by writing `<stage>/stage.json`; a stage
whose marker exists and whose inputs (its section, the model, upstream stages) are unchanged is skipped, so a
second run of a finished recipe does no work. An interrupted training stage resumes from its last checkpoint
because the trainers resume from `checkpoint-*` in their output folder; judging resumes from its cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

from chatrecipe.backends.redact import redact
from chatrecipe.pipeline import data, generate, judge, report, synth, train
from chatrecipe.pipeline import eval as evaluation
from chatrecipe.pipeline.context import PipelineError, Run
from chatrecipe.pipeline.sections import check_section
from chatrecipe.recipe import RecipeError, dump_recipe, load_recipe

# Flow order. Synthesis feeds the data stage; training feeds generation; judging feeds evaluation.
STAGES: dict[str, Callable[[Run], dict]] = {
    "synth": synth.run_stage,
    "data": data.run_stage,
    "sft": train.run_sft,
    "rm": train.run_rm,
    "dpo": train.run_dpo,
    "rl": train.run_rl,
    "generate": generate.run_stage,
    "judge": judge.run_stage,
    "eval": evaluation.run_stage,
    "report": report.run_stage,
}
FLOW = tuple(STAGES)


def stages_in(recipe: dict) -> list[str]:
    """The stages a recipe asks for, in flow order (a section that is present, even empty, runs)."""
    return [name for name in FLOW if name in recipe]


def _fingerprint(run: Run, name: str) -> str:
    """Inputs of a stage: its own section, the model and seed, and the fingerprints of the stages before it."""
    upstream = {k: v.get("fingerprint") for k, v in run.artifacts.get("_stages", {}).items()}
    payload = {"section": run.recipe.get(name), "model": run.recipe.get("model"), "seed": run.seed,
               "upstream": upstream}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("chatrecipe", "torch", "transformers", "trl", "peft", "datasets", "accelerate"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def _write_manifest(run: Run, statuses: dict) -> None:
    manifest = {
        "name": run.recipe["name"],
        "seed": run.seed,
        "versions": _versions(),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "stages": statuses,
        "artifacts": {k: v for k, v in run.artifacts.items() if not k.startswith("_")},
    }
    tmp = run.run_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(redact(manifest), indent=2, default=str))  # an error may quote an endpoint URL
    tmp.replace(run.run_dir / "manifest.json")


def _prepare_stage_dir(folder: Path, fingerprint: str, console) -> str | None:
    """Resume only an interrupted attempt with the same inputs; outputs made from other inputs are cleared.

    Checkpoints and partial answer files from a different configuration must not be resumed into this one;
    content-keyed caches (`cache/`) stay, since a key can only match the request it was made for. Returns when the
    resumed attempt started (None for a fresh start), which the manifest records.
    """
    import shutil

    attempt = folder / "attempt.json"
    previous = json.loads(attempt.read_text()) if attempt.exists() else {}
    resumed = None
    if previous.get("fingerprint") == fingerprint:
        resumed = previous.get("started")
        done = (folder / "stage.json").exists()
        console.print(f"[yellow]  {'running again' if done else 'resuming the interrupted attempt'} of {resumed} "
                      "with the same inputs: what it finished is kept (checkpoints, answers, cached judgments)[/]")
    elif folder.is_dir():
        stale = [p for p in folder.iterdir() if p.name != "cache"]
        if stale:
            console.print(f"[dim]  clearing {len(stale)} outputs of {folder.name} made from other inputs[/]")
        for path in stale:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stage.json").unlink(missing_ok=True)  # running again: complete only once this attempt says so
    attempt.write_text(json.dumps({"fingerprint": fingerprint, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}))
    return resumed


def validate_recipe(path: str | Path, overrides=()) -> list[str]:
    """Parse every section with its stage's config classes; returns the stages that would run."""
    recipe = load_recipe(path, overrides)
    for name in stages_in(recipe):
        check_section(name, recipe)
    return stages_in(recipe)


def run_recipe(path: str | Path, overrides=(), *, runs_dir: str | Path | None = None, from_stage: str | None = None,
               only: str | None = None) -> Path:
    """Run a recipe; returns the run folder. All sections are checked before any stage starts."""
    from rich.console import Console

    console = Console(stderr=True)
    recipe = load_recipe(path, overrides)
    names = stages_in(recipe)
    for option, value in (("--from", from_stage), ("--only", only)):
        if value is not None and value not in names:
            raise RecipeError(f"{option} {value}: not a stage of this recipe; its stages are {', '.join(names)}")
    for name in names:
        check_section(name, recipe)
    run_dir = Path(runs_dir or recipe.get("runs_dir") or "runs") / recipe["name"]
    run_dir.mkdir(parents=True, exist_ok=True)
    dump_recipe(redact(recipe), run_dir / "recipe.yaml")  # a base_url may carry credentials: never into the run
    run = Run(recipe=recipe, run_dir=run_dir, artifacts={"_stages": {}})
    statuses: dict = {}
    forced = set(names[names.index(from_stage):]) if from_stage else set()
    started = time.time()
    for name in names:
        fingerprint = _fingerprint(run, name)
        marker = run_dir / name / "stage.json"
        previous = json.loads(marker.read_text()) if marker.exists() else None
        skip_by_choice = only is not None and name != only
        complete = previous is not None and previous.get("fingerprint") == fingerprint and name not in forced
        if skip_by_choice or complete:
            if previous is None:
                raise PipelineError(f"--only {only}: stage {name!r} before it has not run yet; run the recipe "
                                    "without --only first")
            run.artifacts.update(previous.get("artifacts", {}))
            run.artifacts["_stages"][name] = previous
            statuses[name] = {**previous, "status": "skipped (complete)"}
            console.print(f"[dim]- {name}: complete, skipped[/]")
            continue
        if previous is not None and name not in forced:
            console.print(f"[yellow]- {name}: inputs changed since the last run; running it again[/]")
        console.rule(f"[bold]{name}")
        resumed = _prepare_stage_dir(run.run_dir / name, fingerprint, console)
        statuses[name] = {"status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                          **({"resumed_attempt_of": resumed} if resumed else {})}
        _write_manifest(run, statuses)
        stage_started = time.time()
        try:
            result = STAGES[name](run) or {}
        except (RecipeError, PipelineError):
            statuses[name]["status"] = "failed"
            _write_manifest(run, statuses)
            raise
        except Exception as exc:
            statuses[name].update(status="failed", error=f"{type(exc).__name__}: {exc}")
            _write_manifest(run, statuses)
            raise PipelineError(f"stage {name!r} failed: {type(exc).__name__}: {exc}. Fix the cause and run the "
                                f"same command again: finished stages are skipped, {name} resumes.") from exc
        record = {"fingerprint": fingerprint, "seconds": round(time.time() - stage_started, 1),
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "metrics": result.get("metrics", {}),
                  "artifacts": result.get("artifacts", {})}
        run.artifacts.update(record["artifacts"])
        run.artifacts["_stages"][name] = record
        tmp = marker.with_name("stage.json.tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str))
        tmp.replace(marker)
        statuses[name] = {**record, "status": "done", **({"resumed_attempt_of": resumed} if resumed else {})}
        _write_manifest(run, statuses)
    _write_manifest(run, statuses)
    console.print(f"[green]run {recipe['name']} finished in {time.time() - started:.0f} s[/]: {run_dir}")
    report = run.artifacts.get("report_html")
    if report:
        console.print(f"report: [bold]{report}[/]")
        print(report)
    return run_dir


def run_sweep(path: str | Path, overrides, sweeps: list[str], **kwargs) -> list[Path]:
    """Run the recipe once per value of each `--sweep key=v1,v2,...` (ablations), then a report across them."""
    from chatrecipe.recipe import parse_value

    base = load_recipe(path, overrides)
    run_dirs = []
    for sweep in sweeps:
        if "=" not in sweep:
            raise RecipeError(f"--sweep {sweep!r}: write it as key=v1,v2,... for example data.size=100,200")
        key, values = sweep.split("=", 1)
        for value in values.split(","):
            tag = f"{key.split('.')[-1]}-{value}"
            run_overrides = [*overrides, f"{key}={value}", f"name={base['name']}-{tag}"]
            run_dir = run_recipe(path, run_overrides, **kwargs)
            meta = {"sweep_key": key, "sweep_value": parse_value(value)}
            (run_dir / "sweep.json").write_text(json.dumps(meta))
            run_dirs.append(run_dir)
    report.report_sweep(run_dirs, Path(kwargs.get("runs_dir") or base.get("runs_dir") or "runs") /
                        f"{base['name']}-sweep")
    return run_dirs
