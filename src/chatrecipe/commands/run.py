"""`chatrecipe run | validate | check-template` and `chatrecipe ls`: recipes, and what ships with chatrecipe.

Run as: `chatrecipe run recipes/demo.yaml`, `chatrecipe validate recipes/demo.yaml`, `chatrecipe ls benchmarks`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.messages import fail
from chatrecipe.commands.options import ALLOW_PICKLE, apply_allow_pickle

app = typer.Typer(add_completion=False)
ls_app = typer.Typer(help="List shipped recipes, judge prompts and benchmarks.", no_args_is_help=True,
                     add_completion=False)


@app.command()
def run(
    recipe: Path = typer.Argument(..., help="Recipe YAML (see recipes/)."),
    set_: List[str] = typer.Option([], "--set", help="Override a key: --set sft.learning_rate=1e-5 (repeatable)."),
    from_stage: Optional[str] = typer.Option(None, "--from", help="Re-run from this stage on, even if complete."),
    only: Optional[str] = typer.Option(None, help="Run only this stage."),
    sweep: List[str] = typer.Option([], help="Run once per value: --sweep data.size=100,200,400 (ablations)."),
    runs_dir: Optional[Path] = typer.Option(None, help="Where run folders go (default: runs/)."),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Run a recipe's stages in flow order into runs/<name>/; complete stages are skipped, interrupted ones resume."""
    apply_allow_pickle(allow_pickle)
    from chatrecipe.pipeline.context import PipelineError
    from chatrecipe.pipeline.runner import run_recipe, run_sweep
    from chatrecipe.recipe import RecipeError

    try:
        if sweep:
            run_sweep(recipe, set_, sweep, runs_dir=runs_dir, from_stage=from_stage, only=only)
        else:
            run_recipe(recipe, set_, runs_dir=runs_dir, from_stage=from_stage, only=only)
    except (RecipeError, PipelineError) as exc:
        fail(str(exc))


@app.command("validate")
def validate_recipe(
    recipe: Optional[Path] = typer.Argument(None, help="Recipe YAML to check."),
    set_: List[str] = typer.Option([], "--set", help="Overrides to check along with the file."),
    keys: Optional[str] = typer.Option(None, "--keys", help="Instead, list the keys a section accepts "
                                       "(model, data, sft, rm, dpo, rl, generate, judge, eval, report, synth)."),
) -> None:
    """Check a recipe (every key and type of every section) without running anything."""
    from chatrecipe.pipeline.runner import validate_recipe as check
    from chatrecipe.recipe import RecipeError

    if keys:
        from chatrecipe.pipeline.sections import section_classes
        from chatrecipe.recipe import section_keys

        try:
            for key, kind in section_keys(*section_classes(keys)).items():
                typer.echo(f"{keys}.{key}: {kind}")
        except RecipeError as exc:
            fail(str(exc))
        return
    if recipe is None:
        fail("give a recipe file (or --keys SECTION)")
    try:
        stages = check(recipe, set_)
    except RecipeError as exc:
        fail(str(exc))
    typer.echo(f"{recipe}: valid; stages: {', '.join(stages)}")


@app.command("check-template")
def check_template(
    target: str = typer.Argument(..., help="Model reference, trained model folder or run folder."),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Show token by token what training learns from a sample chat; fail if the end-of-turn token is not trained."""
    apply_allow_pickle(allow_pickle)
    from chatrecipe.train.templates import check_template_command

    raise typer.Exit(check_template_command(target))


@ls_app.command("recipes")
def ls_recipes() -> None:
    """Recipes in ./recipes."""
    for path in sorted(Path("recipes").glob("*.yaml")):
        typer.echo(str(path))


@ls_app.command("judges")
def ls_judges() -> None:
    """Judge prompt templates shipped with chatrecipe (add your own file to use it by path)."""
    from chatrecipe.judge.prompts import list_prompts

    for name in list_prompts():
        typer.echo(name)


@ls_app.command("benchmarks")
def ls_benchmarks() -> None:
    """Evaluation sets shipped with chatrecipe, by the name commands and recipes take, and the standard
    benchmarks `chatrecipe eval bench` runs through lm-evaluation-harness."""
    from importlib.resources import files

    root = files("chatrecipe") / "resources"
    for prefix, folder, use in (("questions:", "questions", "generate / judge / eval mt-bench"),
                                ("redteam:", "redteam", "eval redteam --prompts"),
                                ("rm:", "rm_testsets", "eval rm")):
        path = root / folder
        if path.is_dir():
            for item in sorted(p.name for p in path.iterdir() if p.name.endswith(".jsonl")):
                typer.echo(f"{prefix + item:<36} {use}")
    from chatrecipe.evaluate.lm_bench import SUITE

    for name, (task, shots, metric) in SUITE.items():
        typer.echo(f"{name:<36} eval bench ({task}, {shots}-shot, {metric}; needs lm-eval and the dataset)")
