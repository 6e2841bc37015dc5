"""Top-level `chatrecipe serve | chat | generate`: thin commands over the backends and answer generation."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False)


@app.command("generate")
def generate(
    model: str = typer.Option(..., "--model", help="Model reference (embedded name, folder, .gguf, openai:NAME)."),
    questions: Path = typer.Option(..., "--questions", help="Question file in MT-Bench format."),
    output: Path = typer.Option(..., "-o", "--output", help="Answer file (JSONL); existing answers are kept."),
    name: Optional[str] = typer.Option(None, help="Model name recorded in the answers (default: the reference)."),
    max_new_tokens: int = typer.Option(512, help="Tokens per answer."),
    temperature: float = typer.Option(0.0, help="0 = greedy."),
    batch_size: int = typer.Option(8, help="Prompts per batch (local models)."),
    cache_dir: Optional[Path] = typer.Option(None, help="Answer cache (default: beside the output)."),
) -> None:
    """Answer every question (multi-turn questions turn by turn on the model's own answers)."""
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.data.records import load_records
    from chatrecipe.evaluate.generate import generate_answers

    loaded = load_records(questions, "question")
    for bad in loaded.rejected:
        typer.echo(f"{bad['file']}:{bad['line']}: {bad['reason']}", err=True)
    if not loaded.records:
        raise typer.Exit(1)
    backend = load_backend(model, name=name, batch_size=batch_size,
                           cache_dir=cache_dir or output.parent / ".answer-cache")
    answers = generate_answers(backend, loaded.records, output,
                               GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature))
    typer.echo(f"{len(answers)} answers in {output}")
