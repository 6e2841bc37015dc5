"""`chatrecipe data dedup | decontaminate | filter | mix`: the cleaning and sampling commands of the data group
(registered on its Typer app by chatrecipe.commands.data). Each says what it removed or could not give, by reason,
and exits 1 when its output is less than what was asked.

Run as: `chatrecipe data mix train.jsonl --target instructgpt --size 1000 -o mixed.jsonl`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from chatrecipe.commands.data_files import label_missing, load_any, write
from chatrecipe.commands.messages import fail, warn

SHOWN_MATCHES = 50  # contaminated records printed; with -o every one is kept in the rejected file


def dedup(
    files: List[Path] = typer.Argument(...),
    output: Path = typer.Option(..., "-o", "--output"),
    threshold: float = typer.Option(0.8, help="Jaccard similarity above which two records are near duplicates."),
    key: str = typer.Option("example", help="What makes two records the same: example (a conversation's text; a "
                            "pair's prompt, chosen and rejected) or prompt (one record per prompt)."),
    engine: str = typer.Option("datasketch", help="datasketch (in-process) or datatrove (its MinHash pipeline, "
                               "sharded over tasks; the same pipeline runs on Slurm)."),
    tasks: int = typer.Option(4, help="datatrove: input shards (tasks per stage)."),
    workers: int = typer.Option(2, help="datatrove: processes running tasks at once."),
    work_dir: Optional[Path] = typer.Option(None, help="datatrove: folder for signatures, buckets and logs "
                                            "(default <output>.datatrove/; a rerun skips finished tasks)."),
) -> None:
    """Remove exact and near duplicates (MinHash LSH); clusters go to <output>.clusters.jsonl for review."""
    from chatrecipe.data.records import write_records

    result = load_any(files)
    if engine == "datatrove":
        if key != "example" or any("rejected" in r for r in result.records):
            fail("--engine datatrove compares whole texts only: use the datasketch engine for preference pairs "
                 "and --key prompt")
        try:
            from chatrecipe.data.dedup_cluster import dedup_datatrove
        except ImportError as exc:
            fail(f"--engine datatrove needs datatrove and orjson: pip install datatrove orjson ({exc})")
        folder = work_dir or output.with_name(output.name.split(".")[0] + ".datatrove")
        kept, clusters = dedup_datatrove(result.records, folder, threshold=threshold, tasks=tasks, workers=workers)
    elif engine == "datasketch":
        from chatrecipe.data.dedup import dedup as run_dedup

        try:
            kept, clusters = run_dedup(result.records, threshold=threshold, key=key)
        except ValueError as exc:
            fail(str(exc))
    else:
        fail(f"unknown --engine {engine!r}; use datasketch or datatrove")
    write(output, kept, result.rejected)
    write_records(output.with_suffix(".clusters.jsonl"), clusters)
    by = "" if key == "example" else f", one record per {key}"
    typer.echo(f"{len(result.records) - len(kept)} duplicates in {len(clusters)} clusters ({engine}{by})")


def decontaminate(
    files: List[Path] = typer.Argument(...),
    eval_files: List[Path] = typer.Option(..., "--eval", help="Evaluation sets (questions, red-team prompts, any "
                                          "JSONL)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the clean records here (else only "
                                          "report)."),
    n: int = typer.Option(13, "--n", help="n-gram length in words; shorter evaluation texts are matched whole."),
) -> None:
    """List training records sharing an n-gram with evaluation sets (or equal to a short one); remove them with -o."""
    import json

    from chatrecipe.data.decontaminate import decontaminate as run
    from chatrecipe.data.records import read_jsonl

    result = load_any(files)
    checked = run(result.records, {str(p): read_jsonl(p) for p in eval_files}, n=n)
    for item in checked.matches[:SHOWN_MATCHES]:
        typer.echo(json.dumps(item))
    if len(checked.matches) > SHOWN_MATCHES:
        where = "all of them go to the rejected file" if output else "pass -o OUT to keep all of them in OUT's " \
            "rejected file"
        typer.echo(f"... and {len(checked.matches) - SHOWN_MATCHES} more matches ({where})")
    for row in checked.sets:
        typer.echo(f"{row['eval_set']}: {row['items']} items, {row['texts']} texts: {row['by_ngram']} checked by "
                   f"{n}-grams, {row['whole']} shorter ones matched whole; {row['contaminated']} training records hit")
    typer.echo(f"{len(checked.matches)} contaminated of {len(result.records)}")
    if output:  # a removed record is kept with its reason, like every filter's
        removed = [{"file": None, "line": None, "field": None, "filter": "decontaminate", "match": match,
                    "reason": f"{'equals' if match['how'] == 'whole' else 'shares a ' + str(n) + '-gram with'} "
                              f"{match['eval_set']} item {match['eval_id']}: {match['match']!r}", "record": record}
                   for match, record in zip(checked.matches, checked.removed)]
        write(output, checked.clean, result.rejected + removed)


def filter_command(
    files: List[Path] = typer.Argument(...),
    output: Path = typer.Option(..., "-o", "--output"),
    max_tokens: Optional[int] = typer.Option(2048, help="Drop examples longer than this (model tokens; a pair's "
                                             "longer side); 0 turns the length filter off."),
    tokenizer: str = typer.Option("smollm2-135m-instruct", help="Tokenizer for max_tokens."),
    placeholders: bool = typer.Option(True, help="Drop empty or placeholder replies (N/A, TODO, ...), either side "
                                      "of a pair."),
    refusals: bool = typer.Option(True, help="Drop SFT demonstrations that are boilerplate refusals."),
    pair_refusals: str = typer.Option("off", help="Preference pairs: off (keep all: a refused chosen reply is what "
                                      "a harmlessness set teaches), both (drop pairs whose two replies refuse), "
                                      "rejected (also drop pairs whose rejected reply refuses)."),
    latin_only: bool = typer.Option(False, help="Drop replies not mostly in Latin script."),
) -> None:
    """Drop too-long examples, empty or placeholder replies and boilerplate refusals; counts and reasons kept."""
    from chatrecipe.data.filters import PAIR_REFUSAL_MODES, filter_records

    if pair_refusals not in PAIR_REFUSAL_MODES:
        fail(f"unknown --pair-refusals {pair_refusals!r}; use one of {', '.join(PAIR_REFUSAL_MODES)}")
    result = load_any(files)
    tok = None
    if max_tokens:
        from chatrecipe.models import load_tokenizer

        tok = load_tokenizer(tokenizer)
    filtered = filter_records(result.records, tokenizer=tok, max_tokens=max_tokens or None,
                              placeholders=placeholders, refusals=refusals, pair_refusals=pair_refusals,
                              latin_only=latin_only)
    typer.echo(filtered.summary())
    write(output, filtered.kept, result.rejected + filtered.rejected)


def mix(
    files: List[Path] = typer.Argument(...),
    target: str = typer.Option(..., help="instructgpt, surge10k, h4-preferences or a YAML path."),
    size: int = typer.Option(..., help="Records wanted."),
    output: Path = typer.Option(..., "-o", "--output"),
    seed: int = typer.Option(0),
    allow_short: bool = typer.Option(False, help="Accept fewer than --size records when a category is too small "
                                     "(exit 0, with the shortfall reported)."),
    upsample: bool = typer.Option(False, help="Repeat records of too-small categories to meet --size (copies get "
                                  "<id>#copy<k>; repeats teach memorisation, so use with care)."),
    classify: bool = typer.Option(True, help="Label records without a task category first (offline embeddings); "
                                  "--no-classify mixes them as 'other'."),
) -> None:
    """Resample to a target task mix and size; per category: asked, available, taken. Exits 1 when short."""
    from chatrecipe.data.mix import mix as run_mix
    from chatrecipe.data.mixes import load_mix

    try:
        shares = load_mix(target)
    except ValueError as exc:
        fail(str(exc))
    result = load_any(files)
    records = label_missing(result.records, classify)
    mixed = run_mix(records, shares, size, seed, allow_short=allow_short, upsample=upsample)
    for row in mixed.table:
        typer.echo(f"{row['category']:<15} target {row['target_percent']:5.1f}%  asked {row['asked']:>5}  "
                   f"available {row['available']:>5}  taken {row['taken']:>5}"
                   + (f" ({row['upsampled']} repeats)" if row["upsampled"] else "")
                   + f"  achieved {row['achieved_percent']:5.1f}%" + ("" if row["in_target"] else "  (not in target)"))
    for message in mixed.messages():
        warn(message)
    write(output, mixed.records, result.rejected)
    if not mixed.ok:
        raise typer.Exit(1)
