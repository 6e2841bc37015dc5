"""`chatrecipe judge single | pairwise`: judge answer files with any model, writing judgment records, resumably.

Run as: `chatrecipe judge pairwise --judge openai:gpt-4o --questions q.jsonl --answers-a a.jsonl --answers-b b.jsonl
-o judgments.jsonl`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from chatrecipe.commands.judged_files import check_answered, load_input, one_models_answers
from chatrecipe.commands.messages import fail

app = typer.Typer(help="Judge answers with an LLM: single 1-10 grades or pairwise verdicts in both orders.",
                  no_args_is_help=True, add_completion=False)

JUDGE = typer.Option("smollm2-135m-instruct", "--judge", help="Judge model: a local model, openai:NAME "
                     "(OPENAI_BASE_URL / OPENAI_API_KEY) or vllm:NAME.")
QUESTIONS = typer.Option(..., "--questions", help="Question file (MT-Bench format).")
OUTPUT = typer.Option(..., "-o", "--output", help="Judgment file (JSONL); judgments already in it are kept.")
PROMPT = typer.Option(None, "--prompt", help="Judge prompt name or .txt file (default: chosen per question).")
FORMAT = typer.Option("chatrecipe", "--format", help="Layout of the judgment file: chatrecipe or fastchat "
                      "(model_judgment/<judge>_single.jsonl / _pair.jsonl; resumable records kept in .chatrecipe/).")
PREFILL = typer.Option(False, "--prefill", help="Start the judge's reply with the verdict marker so a small local "
                       "judge commits to a verdict (local judges only).")


def _backend(judge: str, output: Path, batch_size: int):
    from chatrecipe.backends import load_backend

    return load_backend(judge, cache_dir=output.parent / ".judge-cache", batch_size=batch_size)


def _records_at(output: Path, fmt: str) -> Path:
    from chatrecipe.data.export import working_path

    if fmt not in ("chatrecipe", "fastchat"):
        fail(f"unknown --format {fmt!r}; judgments are written as chatrecipe or fastchat")
    return working_path(output, fmt)


def _summary(records: list[dict], output: Path, records_at: Path, fmt: str) -> None:
    failed = sum(1 for r in records if r.get("error"))
    typer.echo(f"{len(records)} judgments, {failed} failed (recorded with their reason, excluded from scores)")
    if fmt != "chatrecipe":
        from chatrecipe.data.export import export_judgments
        from chatrecipe.data.records import load_records

        # every judgment the resumable file holds, not only this run's: FastChat keeps all models' judgments in
        # one model_judgment/<judge>_single.jsonl, so judging a second model must not drop the first one's
        done = export_judgments(output, load_records(records_at, "judgment").records, fmt)
        typer.echo(f"{done['written']} rows in {output} ({fmt} layout, every judgment in {records_at})")


@app.command()
def single(
    answers: Path = typer.Option(..., "--answers", help="Answer file of one model."),
    questions: Path = QUESTIONS, output: Path = OUTPUT, judge: str = JUDGE,
    prompt: Optional[str] = PROMPT, prefill: bool = PREFILL,
    repeats: int = typer.Option(1, help="Judge N times (sampled) for a spread."),
    max_new_tokens: int = typer.Option(256), batch_size: int = typer.Option(8), fmt: str = FORMAT,
) -> None:
    """Grade each answer 1-10 (reference-guided for math, reasoning and coding when references exist)."""
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.judge.single import judge_single

    records_at = _records_at(output, fmt)
    answered, asked = one_models_answers(answers, "--answers"), load_input(questions, "question")
    check_answered(asked, {"--answers": answered})
    records = judge_single(_backend(judge, output, batch_size), asked, answered, records_at, prompt=prompt,
                           repeats=repeats, params=GenerationParams(max_new_tokens=max_new_tokens), prefill=prefill)
    _summary(records, output, records_at, fmt)


@app.command()
def pairwise(
    answers_a: Path = typer.Option(..., "--answers-a", help="Answers of the model being evaluated."),
    answers_b: Path = typer.Option(..., "--answers-b", help="Answers of the baseline."),
    questions: Path = QUESTIONS, output: Path = OUTPUT, judge: str = JUDGE, prompt: Optional[str] = PROMPT,
    prefill: bool = PREFILL, one_order: bool = typer.Option(False, help="Judge only in the A-B order (default: both orders)."),
    repeats: int = typer.Option(1), max_new_tokens: int = typer.Option(256), batch_size: int = typer.Option(8),
    fmt: str = FORMAT,
) -> None:
    """Compare two models' answers; both orders by default, conflicting verdicts become ties."""
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.judge.pairwise import combine_orders, judge_pairwise

    records_at = _records_at(output, fmt)
    answered_a = one_models_answers(answers_a, "--answers-a")
    answered_b = one_models_answers(answers_b, "--answers-b")
    if answered_a[0]["model"] == answered_b[0]["model"]:  # its verdicts could not say which answer won: refused unpaid
        fail(f"--answers-a and --answers-b are both {answered_a[0]['model']}'s answers; a comparison needs two models "
             "(name a checkpoint's answers with generate --name)")
    asked = load_input(questions, "question")
    check_answered(asked, {"--answers-a": answered_a, "--answers-b": answered_b})
    records = judge_pairwise(_backend(judge, output, batch_size), asked, answered_a, answered_b, records_at,
                             both_orders=not one_order, prompt=prompt, repeats=repeats,
                             params=GenerationParams(max_new_tokens=max_new_tokens), prefill=prefill)
    _summary(records, output, records_at, fmt)
    _, stats = combine_orders(records)
    if stats["consistency"] is not None:
        typer.echo(f"position consistency: {100 * stats['consistency']:.0f}% of {stats['both_orders']} pairs")
