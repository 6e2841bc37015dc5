"""The `chatrecipe` command: one Typer sub-app per stage and a few top-level commands; no logic of its own.

Run as: `chatrecipe --help`. Every heavy import happens inside a command, so `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.annotate.cli import app as annotate_app
from chatrecipe.backends.cli import app as backends_app
from chatrecipe.data.cli import app as data_app
from chatrecipe.evaluate.cli import app as eval_app
from chatrecipe.judge.cli import app as judge_app
from chatrecipe.report.cli import app as report_app
from chatrecipe.synth.cli import app as synth_app
from chatrecipe.train.cli import app as train_app

app = typer.Typer(
    help="chatrecipe: the recipe for training helpful chatbots — data, training on TRL, LLM-judge evaluation, "
         "leaderboards and reports. Start with `chatrecipe run recipes/demo.yaml`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(synth_app, name="synth")
app.add_typer(annotate_app, name="annotate")
app.add_typer(train_app, name="train")
app.add_typer(judge_app, name="judge")
app.add_typer(eval_app, name="eval")
# `serve`, `chat`, `generate` and `report` are single commands defined beside their code
app.registered_commands.extend(backends_app.registered_commands)
app.registered_commands.extend(report_app.registered_commands)

models_app = typer.Typer(help="List, prepare and merge models.", no_args_is_help=True, add_completion=False)
ls_app = typer.Typer(help="List shipped recipes, judge prompts and benchmarks.", no_args_is_help=True,
                     add_completion=False)
app.add_typer(models_app, name="models")
app.add_typer(ls_app, name="ls")


def _fail(message: str, code: int = 2) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def run(
    recipe: Path = typer.Argument(..., help="Recipe YAML (see recipes/)."),
    set_: List[str] = typer.Option([], "--set", help="Override a key: --set sft.learning_rate=1e-5 (repeatable)."),
    from_stage: Optional[str] = typer.Option(None, "--from", help="Re-run from this stage on, even if complete."),
    only: Optional[str] = typer.Option(None, help="Run only this stage."),
    sweep: List[str] = typer.Option([], help="Run once per value: --sweep data.size=100,200,400 (ablations)."),
    runs_dir: Optional[Path] = typer.Option(None, help="Where run folders go (default: runs/)."),
) -> None:
    """Run a recipe's stages in flow order into runs/<name>/; complete stages are skipped, interrupted ones resume."""
    from chatrecipe.pipeline import PipelineError, run_recipe, run_sweep
    from chatrecipe.recipe import RecipeError

    try:
        if sweep:
            run_sweep(recipe, set_, sweep, runs_dir=runs_dir, from_stage=from_stage, only=only)
        else:
            run_recipe(recipe, set_, runs_dir=runs_dir, from_stage=from_stage, only=only)
    except (RecipeError, PipelineError) as exc:
        _fail(str(exc))


@app.command("validate")
def validate_recipe(
    recipe: Optional[Path] = typer.Argument(None, help="Recipe YAML to check."),
    set_: List[str] = typer.Option([], "--set", help="Overrides to check along with the file."),
    keys: Optional[str] = typer.Option(None, "--keys", help="Instead, list the keys a section accepts "
                                       "(model, data, sft, rm, dpo, rl, generate, judge, eval, report, synth)."),
) -> None:
    """Check a recipe (every key and type of every section) without running anything."""
    from chatrecipe.pipeline import validate_recipe as check
    from chatrecipe.recipe import RecipeError

    if keys:
        from chatrecipe.recipe import section_keys
        from chatrecipe.stages import section_classes

        for key, kind in section_keys(*section_classes(keys)).items():
            typer.echo(f"{keys}.{key}: {kind}")
        return
    if recipe is None:
        _fail("give a recipe file (or --keys SECTION)")

    try:
        stages = check(recipe, set_)
    except RecipeError as exc:
        _fail(str(exc))
    typer.echo(f"{recipe}: valid; stages: {', '.join(stages)}")


@app.command("check-template")
def check_template(
    target: str = typer.Argument(..., help="Model reference, trained model folder or run folder."),
) -> None:
    """Show token by token what training learns from a sample chat; fail if the end-of-turn token is not trained."""
    from chatrecipe.train.templates import check_template_command

    raise typer.Exit(check_template_command(target))


@models_app.command("list")
def models_list() -> None:
    """Models available offline: the embedded default and converted ones."""
    from chatrecipe.models import list_models

    for row in list_models():
        state = "ready" if row["prepared"] else "not prepared (run `chatrecipe models prepare`)"
        typer.echo(f"{row['name']:<28} {row['kind']:<9} {state}  {row['path']}")


@models_app.command("prepare")
def models_prepare(force: bool = typer.Option(False, help="Convert again even if already prepared.")) -> None:
    """Convert the embedded GGUF model to a safetensors folder under $CHATRECIPE_HOME (once)."""
    from chatrecipe.models import ModelLoadError, prepare_embedded

    try:
        typer.echo(str(prepare_embedded(force=force)))
    except ModelLoadError as exc:
        _fail(str(exc))


@models_app.command("merge")
def models_merge(
    adapter: Path = typer.Argument(..., help="A LoRA adapter folder (from `chatrecipe train ... method=lora`)."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for the merged full model."),
) -> None:
    """Merge a LoRA adapter into its base model and save a full model folder (with tokenizer and template)."""
    from chatrecipe.train.peft_setup import merge_adapter

    typer.echo(str(merge_adapter(adapter, output)))


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


def main() -> None:
    import os
    import warnings

    # library deprecation chatter (transformers 5 renames) drowns the progress bars users need to see
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    app()


if __name__ == "__main__":
    main()
