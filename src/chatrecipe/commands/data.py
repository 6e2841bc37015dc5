"""`chatrecipe data`: convert, validate, stats, classify, dedup, decontaminate, filter and mix datasets.

Run as: `chatrecipe data convert hh-rlhf.jsonl.gz -o pairs.jsonl`, `chatrecipe data stats train.jsonl -o stats/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands import data_clean
from chatrecipe.commands.data_files import label_missing, load_any, nothing_read, require_records, write
from chatrecipe.commands.messages import fail, show_rejected, warn

app = typer.Typer(help="Data: convert, validate, stats, classify, dedup, decontaminate, filter, mix.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def validate(
    files: List[Path] = typer.Argument(..., help="Record files (.jsonl, .json, .parquet, .csv, .gz, datasets folder)."),
    kind: Optional[str] = typer.Option(None, help="Record kind (conversation, preference, question, answer, "
                                                  "judgment, battle); detected per row when omitted."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the valid records here "
                                          "(rejected ones go to <output>.rejected.jsonl)."),
    strict: bool = typer.Option(False, help="Exit non-zero if any record is rejected."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Check record files against chatrecipe's schemas; report every bad line by file, line and field."""
    import json

    from chatrecipe.data.records import RecordFileError, load_records, write_records, write_rejected

    try:
        result = load_records(files, kind)
    except (RecordFileError, ValueError) as exc:
        fail(str(exc))
    rejected_file = None
    if output:
        write_records(output, result.records)
        rejected_file = write_rejected(output, result.rejected)
    summary = {**result.counts, "output": str(output) if output else None,
               "rejected_file": str(rejected_file) if rejected_file else None}
    if as_json:
        print(json.dumps({**summary, "rejections": result.rejected[:1000]}))
    else:
        show_rejected(result.rejected, limit=200)
        typer.echo(f"{summary['valid']} valid, {summary['rejected']} rejected"
                   + (f" (written to {rejected_file})" if rejected_file else ""), err=True)
    if not result.records or (strict and result.rejected):
        raise typer.Exit(1)


@app.command()
def convert(
    files: List[Path] = typer.Argument(..., help="Input files in any supported public format, or a Hub dataset id "
                                       "(owner/name; offline, from the datasets cache)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output JSONL (or .parquet)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Force a format (detected otherwise): messages, h4, "
                                      "implicit-prompt, prompt-completion, unpaired, alpaca, sharegpt, capybara, "
                                      "hh-rlhf, nectar, ultrafeedback, helpsteer2, shp, summarize, arena, oasst, "
                                      "oasst-trees."),
    option: Optional[List[str]] = typer.Option(None, "--option", help="A format's option as KEY=VALUE, repeatable: "
                                               "attribute=correctness (helpsteer2), mode=best-random, seed=N "
                                               "(ultrafeedback)."),
) -> None:
    """Convert public formats (H4, TRL, Alpaca, ShareGPT, HH-RLHF, Nectar, UltraFeedback, HelpSteer2, SHP, summarize,
    Arena, OpenAssistant, ...) to records, saying which format it read and why."""
    result = load_any(files, fmt, option, require=False)
    if result.format is None:  # nothing readable: say what the file looks like and what was expected
        write(output, [], result.rejected)
        fail(nothing_read(files, result.rejected), 1)
    kind = result.kind or "none (every row was rejected)"
    typer.echo(f"format: {result.format}, kind: {kind} ({result.reason})")
    write(output, result.records, result.rejected)
    if not result.records:
        raise typer.Exit(1)


@app.command()
def stats(
    files: List[Path] = typer.Argument(..., help="Conversation or preference files."),
    tokenizer: Optional[str] = typer.Option("smollm2-135m-instruct", help="Count lengths in this model's tokens "
                                            "(use 'words' for whitespace words)."),
    target: Optional[str] = typer.Option(None, help="Target mix to compare with: instructgpt, surge10k, "
                                         "h4-preferences or a YAML path."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for Markdown, CSV, JSON and PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the stats as JSON."),
    classify: bool = typer.Option(True, help="Label records without a task category first (offline embeddings), "
                                  "so the task table is not all 'other'; --no-classify shows them as 'other' "
                                  "with a warning."),
) -> None:
    """The recipe's tables: length distribution, task distribution vs a target mix, turns, margins."""
    import json

    from rich.console import Console
    from rich.table import Table

    from chatrecipe.data.stats import dataset_stats, stats_tables, write_stats

    result = load_any(files)
    tok = None
    if tokenizer and tokenizer != "words":
        from chatrecipe.models import load_tokenizer

        tok = load_tokenizer(tokenizer)
    data = dataset_stats(label_missing(result.records, classify), tok, target_mix=target)
    for message in data["warnings"]:
        warn(message)
    if output:
        write_stats(data, output)
    if as_json:
        print(json.dumps({k: v for k, v in data.items() if k != "_raw"}))
        return
    console = Console()
    for spec in stats_tables(data):
        table = Table(title=spec["title"])
        for column in spec["columns"]:
            table.add_column(str(column))
        for row in spec["rows"]:
            table.add_row(*["" if v is None else str(v) for v in row])
        console.print(table)


@app.command()
def classify(
    files: List[Path] = typer.Argument(None, help="Prompts, conversations, preference pairs or MT-Bench question "
                                       "files (prompts may end with the user's turn; any format convert reads)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the labelled records here."),
    method: str = typer.Option("embeddings", help="embeddings (offline, MiniLM + logistic regression) or judge."),
    judge: Optional[str] = typer.Option(None, "--judge", help="Model for --method judge (openai:NAME, a folder, "
                                        "smollm2-135m-instruct)."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for an openai: judge."),
    field: str = typer.Option("category", "--field", help="Record field the label goes to (another name keeps "
                              "the existing category beside the prediction)."),
    overwrite: bool = typer.Option(False, help="Relabel records that already have a category (one a classifier "
                                   "gave, or any but 'other')."),
    train: str = typer.Option("classify:train.jsonl", help="Labelled prompts (id, category, prompt) to train on."),
    heldout: List[str] = typer.Option(["classify:heldout.jsonl", "classify:heldout-realworld.jsonl"],
                                      help="Labelled prompts or dialogs for --evaluate (repeat for several); "
                                           "default: the clean held-out prompts and the real-world multi-turn ones."),
    evaluate: bool = typer.Option(False, "--evaluate", help="Print accuracy and recall per category with 95% Wilson "
                                  "intervals and the confusion matrix on each --heldout (PNG/JSON under --plots)."),
    plots: Path = typer.Option(Path("classify-eval"), help="Folder for the --evaluate confusion matrix PNG and JSON."),
    views: str = typer.Option("12,24", help="Tokens of the first user turn (then the system prompt) that each "
                              "embedding reads, comma-separated; two views beat any one in 5-fold "
                              "cross-validation, and 12,24 is the cheapest of the pairs that tied."),
    precision: str = typer.Option("int8", help="Embedding precision on CPU: int8 (about 3x faster) or fp32 "
                                  "(the same vector for a text whatever its batch)."),
    cache_dir: Optional[Path] = typer.Option(None, help="Answer cache for the judge (default $CHATRECIPE_HOME)."),
) -> None:
    """Label every record with a task category, read from its first user turn and system prompt.

    The first user turn sets a dialog's task (later turns are follow-ups such as "thanks, shorter please"), so
    conversations, prompts, preference pairs and MT-Bench questions are all classified by it.
    """
    from chatrecipe.progress import progress_bar

    from chatrecipe.data.classify import EmbeddingClassifier, JudgeClassifier, classify_records
    from chatrecipe.data.resources import chatrecipe_home
    from chatrecipe.data.classify import evaluate as run_evaluate
    from chatrecipe.data.records import RecordFileError, write_records

    if not evaluate and (not files or output is None):
        fail("give input files and -o OUTPUT (or --evaluate to measure the classifier)")
    if method not in ("embeddings", "judge"):
        fail(f"unknown --method {method!r}; use embeddings or judge")
    try:
        if method == "judge":
            if not judge:
                fail("--method judge needs --judge MODEL")
            from chatrecipe.backends import load_backend
            from chatrecipe.backends.base import GenerationParams

            backend = load_backend(judge, cache_dir=cache_dir or chatrecipe_home() / "classify-judge-cache",
                                   base_url=base_url)
            params = GenerationParams(max_new_tokens=16, temperature=0.0)
            classifier = JudgeClassifier(lambda conversations: backend.chat(conversations, params), judge)
        else:
            from chatrecipe.data.embeddings import Embedder

            try:
                token_views = [int(v) for v in views.split(",") if v.strip()]
            except ValueError:
                fail(f"--views {views!r}: write token counts separated by commas, e.g. 12,24")
            classifier = EmbeddingClassifier.fit(train, Embedder(precision=precision), views=token_views)
    except (RecordFileError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    if evaluate:
        for path in heldout:
            _print_evaluation(run_evaluate(classifier, path), plots)
        if not files:
            return
    from chatrecipe.data.requests import load_requests

    try:
        result = load_requests(files)
    except RecordFileError as exc:
        fail(str(exc))
    require_records(files, result)
    with progress_bar("classify", len(result.records)) as advance:
        labelled = classify_records(result.records, classifier, overwrite=overwrite, field=field, progress=advance)
    write(output, labelled.records, result.rejected)
    if labelled.failed:
        failures = output.with_name(output.name.split(".")[0] + ".classify-failures.jsonl")
        write_records(failures, labelled.failed)
        typer.echo(f"{len(labelled.failed)} could not be classified (kept with metadata.category_error) -> {failures}")
    counts = labelled.counts
    typer.echo(f"{counts['classified']} classified, {counts['kept']} kept their category, {counts['failed']} failed "
               f"({classifier.source})")


# the cleaning and sampling commands live in their own module (this one would outgrow a file)
app.command()(data_clean.dedup)
app.command()(data_clean.decontaminate)
app.command("filter")(data_clean.filter_command)
app.command()(data_clean.mix)


def _print_evaluation(report: dict, plots: Path) -> None:
    """Accuracy and recall per category with 95% Wilson intervals, the confusion matrix, and its PNG/JSON."""
    import json

    from chatrecipe.data.plots import confusion_matrix_plot
    from chatrecipe.stats import wilson_bounds

    stem = Path(report["heldout"]).name.split(".")[0]
    _, low, high = wilson_bounds(report["correct"], report["n"])
    report = {**report, "accuracy_low": low, "accuracy_high": high,
              "per_category": [{**row, **dict(zip(("low", "high"), wilson_bounds(row["correct"], row["n"])[1:]))}
                               for row in report["per_category"]]}
    plots.mkdir(parents=True, exist_ok=True)
    (plots / f"{stem}-eval.json").write_text(json.dumps(report, indent=1))
    png = confusion_matrix_plot(report["confusion"], report["labels"], plots / f"{stem}-confusion.png",
                                f"{stem}: accuracy {report['accuracy']:.1%} (n={report['n']})")
    typer.echo(f"classifier: {report['source']}\nheld-out: {report['heldout']} ({report['n']} prompts)")
    typer.echo(f"accuracy: {report['accuracy']:.1%} [{low:.1%}, {high:.1%}] (95% Wilson)"
               + (f", {report['failed']} failed" if report["failed"] else ""))
    width = max(len("true \\ predicted"), *(len(c) for c in report["labels"]))
    typer.echo("true \\ predicted".ljust(width + 1) + " ".join(c[:5].rjust(5) for c in report["labels"])
               + "  recall [95% interval]")
    rows = {row["category"]: row for row in report["per_category"]}
    for label, counts in zip(report["labels"], report["confusion"]):
        row = rows.get(label)
        typer.echo(label.ljust(width + 1) + " ".join(str(v).rjust(5) for v in counts)
                   + (f"  {row['recall']:.0%} [{row['low']:.0%}, {row['high']:.0%}]" if row else ""))
    typer.echo(f"confusion matrix: {png}")
