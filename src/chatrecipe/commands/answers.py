"""`chatrecipe generate | serve | chat`: answers from any model — answer files for judging, an OpenAI-compatible
server, a terminal chat. Run as: `chatrecipe generate --model M --questions q.jsonl -o answers.jsonl`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from chatrecipe.commands.messages import fail, show_rejected
from chatrecipe.commands.options import ALLOW_PICKLE, apply_allow_pickle

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
    fmt: str = typer.Option("chatrecipe", "--format", help="Layout of the answer file: chatrecipe, fastchat "
                            "(model_answer/<model>.jsonl) or alpaca_eval (model_outputs.json, single-turn)."),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Answer every question (multi-turn questions turn by turn on the model's own answers)."""
    apply_allow_pickle(allow_pickle)
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams
    from chatrecipe.data.export import export_answers, working_path
    from chatrecipe.data.records import load_records
    from chatrecipe.evaluate.generate import generate_answers

    try:
        records_at = working_path(output, fmt)
    except ValueError as exc:
        fail(str(exc))
    loaded = load_records(questions, "question")  # FastChat's question.jsonl, AlpacaEval's eval set too
    show_rejected(loaded.rejected)
    if not loaded.records:
        fail(f"no valid questions in {questions}", 1)
    backend = load_backend(model, name=name, batch_size=batch_size,
                           cache_dir=cache_dir or output.parent / ".answer-cache")
    answers = generate_answers(backend, loaded.records, records_at,
                               GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature))
    failed = [a for a in answers if a.get("error")]
    if fmt == "chatrecipe":
        typer.echo(f"{len(answers)} answers in {output}")
    else:
        # every answer the resumable file holds, not only this run's ("existing answers are kept" in the layout
        # too), in the question file's order (the file holds them as they came back), earlier runs' after them
        position = {q["question_id"]: i for i, q in enumerate(loaded.records)}
        held = sorted(load_records(records_at, "answer").records,
                      key=lambda a: position.get(a["question_id"], len(position)))
        done = export_answers(output, held, fmt, loaded.records)
        typer.echo(f"{done['written']} answers in {output} ({fmt} layout; resumable records in {records_at})")
        if done["rejected"] and not failed:
            fail(f"{done['rejected']} answers do not fit the {fmt} layout; kept with the reason in "
                 f"{done['rejected_path']}", 1)
    if failed:
        fail(f"{len(failed)} of {len(answers)} answers failed (question {failed[0]['question_id']}: "
             f"{failed[0]['error']}); they are in {records_at} with their reason and judges refuse them. To ask "
             f"for them again, delete {records_at} and run this command again: the answers that came back are in "
             "the cache and cost nothing", 1)


@app.command("serve")
def serve_command(
    model: str = typer.Argument(..., help="Model reference (embedded name, folder, LoRA folder, .gguf)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (127.0.0.1 keeps it local)."),
    port: int = typer.Option(8000, help="Port."),
    name: Optional[str] = typer.Option(None, help="Model name reported by /v1/models."),
    batch_size: int = typer.Option(8),
    allow_pickle: bool = ALLOW_PICKLE,
    api_key: Optional[str] = typer.Option(None, envvar="CHATRECIPE_SERVE_API_KEY", show_envvar=True,
                                          help="Key every client must send (its OpenAI API key); use it whenever "
                                               "--host is not 127.0.0.1. The environment variable keeps it out of "
                                               "the process list."),
    max_queue: int = typer.Option(16, min=0, help="Requests that may wait for the model; more get 429."),
    queue_timeout: float = typer.Option(60.0, min=0.0, help="Seconds a request may wait for the model; then 503."),
) -> None:
    """Serve a model over an OpenAI-compatible API (/v1/chat/completions with streaming, /v1/models).

    One request generates at a time; a prompt that does not fit the model's context is refused (400) up front.
    """
    apply_allow_pickle(allow_pickle)
    from chatrecipe.serve import check_limits, serve

    try:
        check_limits(max_queue, queue_timeout)
    except ValueError as exc:
        fail(str(exc))
    serve(model, host=host, port=port, batch_size=batch_size, name=name, api_key=api_key, max_queue=max_queue,
          queue_timeout=queue_timeout)


@app.command("chat")
def chat_command(
    model: str = typer.Argument(..., help="Model reference, or openai:NAME for an endpoint."),
    system: Optional[str] = typer.Option(None, help="System message."),
    max_new_tokens: int = typer.Option(256),
    temperature: float = typer.Option(0.7),
    allow_pickle: bool = ALLOW_PICKLE,
) -> None:
    """Chat with a model in the terminal (empty line or Ctrl-D to quit; /reset starts over)."""
    apply_allow_pickle(allow_pickle)
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams

    backend = load_backend(model)
    history = [{"role": "system", "content": system}] if system else []
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature)
    typer.echo(f"chatting with {backend.model}; empty line to quit, /reset to start over")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        if text == "/reset":
            history = history[:1] if system else []
            continue
        history.append({"role": "user", "content": text})
        result = backend.chat([history], params)[0]
        reply = result.text if result.ok else f"[error: {result.error}]"
        typer.echo(f"bot> {reply}")
        history.append({"role": "assistant", "content": result.text or ""})
