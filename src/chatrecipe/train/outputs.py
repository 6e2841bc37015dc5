"""What every training stage shares around its trainer: input records, resume, the final model folder, curves.

The trainers themselves are TRL's; this file holds only what sits before and after `trainer.train()`, so each
stage module reads top to bottom as "parse config -> load data -> build trainer -> train -> save".
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from chatrecipe.data.records import RecordFileError, load_records, write_rejected


class TrainingInputError(ValueError):
    """Training data or settings that cannot train; raised before the first step with what to do."""


def load_training_records(files: list, kind: str, output_dir: Path) -> list[dict]:
    """Validated records; rejected ones are written to `<output_dir>/train.rejected.jsonl` with reasons."""
    try:
        result = load_records([str(f) for f in files], kind)
    except RecordFileError as exc:
        raise TrainingInputError(str(exc)) from exc
    write_rejected(output_dir / "train.jsonl", result.rejected)
    if not result.records:
        reasons = sorted({r["reason"] for r in result.rejected})[:3]
        raise TrainingInputError(f"no valid {kind} records in {', '.join(map(str, files))}"
                                 + (f" (rejected: {'; '.join(reasons)})" if reasons else ""))
    return result.records


def reject_too_long(rows: list[dict], lengths: list[int], max_length: int | None, output_dir: Path,
                    what: str) -> tuple[list[dict], list[int]]:
    """Drop rows longer than `max_length` tokens, recording each with its length (never silently truncated).
    Returns the rows kept and their lengths, which the token counts and the memory estimate then read."""
    if not max_length:
        return rows, lengths
    kept, kept_lengths, rejected = [], [], []
    for row, length in zip(rows, lengths):
        if length > max_length:
            rejected.append({"file": "training data", "line": None, "field": what, "record": row,
                             "reason": f"{length} tokens > max_length {max_length}; raise max_length or shorten it"})
        else:
            kept.append(row)
            kept_lengths.append(length)
    write_rejected(output_dir / "too-long.jsonl", rejected)  # too-long.rejected.jsonl
    if not kept:
        raise TrainingInputError(f"every example is longer than max_length={max_length} tokens; raise max_length")
    return kept, kept_lengths


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest complete `checkpoint-*` folder (TRL/transformers layout), or None."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


def resume_point(output_dir: Path, resume: bool | str) -> str | None:
    """What to pass as `resume_from_checkpoint`: an explicit folder must exist; True means 'the latest, if any'.
    A resume is announced on stderr with the step it continues from, before any work."""
    if isinstance(resume, str):
        if not Path(resume).is_dir():
            raise TrainingInputError(f"--resume {resume}: no such checkpoint folder; omit it to start fresh")
        checkpoint = resume
    else:
        checkpoint = last_checkpoint(output_dir) if resume else None
    if checkpoint:
        print(f"resuming {Path(output_dir).name} from {checkpoint} (step {checkpoint_step(checkpoint)}); "
              "pass --fresh (or delete the checkpoints) to start over", file=sys.stderr)
    return checkpoint


def checkpoint_step(checkpoint: str | Path) -> int:
    """The global step a checkpoint was saved at (its trainer_state.json, else its folder name)."""
    state = Path(checkpoint) / "trainer_state.json"
    if state.is_file():
        return int(json.loads(state.read_text())["global_step"])
    return int(Path(checkpoint).name.rpartition("-")[2])


def whole_run_loss(history: list[dict], session_loss: float, global_step: int, resumed_at: int) -> dict:
    """train_loss over every step of a resumed run, not only this session's.

    The trainer's own `train_loss` averages the steps it ran since the checkpoint; the steps before are in the log
    history the checkpoint restored, one mean loss per logging window. Steps between the last logged window and the
    checkpoint have no recorded loss anywhere: they are counted, not guessed.
    """
    before, covered = 0.0, 0
    for entry in history:
        if "loss" in entry and entry.get("step", 0) <= resumed_at:
            before += entry["loss"] * (entry["step"] - covered)
            covered = entry["step"]
    session_steps = global_step - resumed_at
    steps = covered + session_steps
    return {"train_loss": (before + session_loss * session_steps) / steps if steps else session_loss,
            "train_loss_this_session": session_loss, "resumed_at_step": resumed_at,
            "steps_without_logged_loss": resumed_at - covered}


def model_record(*, stage: str, base_model: str, method: str, **extra) -> dict:
    """`chatrecipe_model.json`: what a saved model or adapter applies to (an adapter may stack on another)."""
    return {"stage": stage, "base_model": base_model if method != "full" else None, "started_from": base_model,
            "method": method, **extra}


class RecordCheckpoints(TrainerCallback):
    """Writes `chatrecipe_model.json` into every `checkpoint-N/`, so a checkpoint loads like `final/` does (on
    the right base, with its head's size) and can be evaluated or served mid-run."""

    def __init__(self, output_dir: Path, **record):
        self.output_dir = Path(output_dir)
        self.record = model_record(**record)

    def on_save(self, args, state, control, **kwargs):
        folder = self.output_dir / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            (folder / "chatrecipe_model.json").write_text(json.dumps({**self.record, "checkpoint": True}, indent=1))


def save_final(trainer, tokenizer, output_dir: Path, *, base_model: str, method: str, generation_template: str,
               stage: str, **extra_meta) -> Path:
    """Write `final/` atomically: model or adapter, tokenizer with the generation template, provenance."""
    from chatrecipe.train.templates import END_OF_TURN, template_hash

    final, tmp = output_dir / "final", output_dir / "final.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    if trainer.accelerator.is_main_process:
        trainer.save_model(str(tmp))
        tokenizer.chat_template = generation_template
        tokenizer.save_pretrained(str(tmp))
        eot = END_OF_TURN if END_OF_TURN in tokenizer.get_vocab() else tokenizer.eos_token
        meta = model_record(stage=stage, base_model=base_model, method=method,
                            chat_template_hash=template_hash(generation_template), stop_tokens=[eot],
                            saved=time.strftime("%Y-%m-%dT%H:%M:%S"), **extra_meta)
        (tmp / "chatrecipe_model.json").write_text(json.dumps(meta, indent=1))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    trainer.accelerator.wait_for_everyone()
    return final


def _running_mean(values: list[float], window: int) -> list[float]:
    """Mean of each value and the `window - 1` before it (fewer at the start)."""
    means = []
    for i in range(len(values)):
        recent = values[max(0, i - window + 1):i + 1]
        means.append(sum(recent) / len(recent))
    return means


def plot_curves(history: list[dict], output_dir: Path, keys: dict[str, list[str]]) -> list[Path]:
    """One PNG per curve group (e.g. loss: [loss, eval_loss]) from the trainer's log history."""
    from chatrecipe.data.plots import pyplot, save_figure

    plt = pyplot()

    written = []
    for name, metric_keys in keys.items():
        series = {k: [(h["step"], h[k]) for h in history if k in h and isinstance(h[k], (int, float))
                      and math.isfinite(h[k])] for k in metric_keys}
        series = {k: v for k, v in series.items() if v}
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        for index, (key, points) in enumerate(series.items()):
            steps, values = [p[0] for p in points], [p[1] for p in points]
            if len(points) >= 12:  # online RL logs one noisy value per step: draw the trend over it
                window = max(3, len(points) // 6)
                ax.plot(steps, values, color=f"C{index}", alpha=0.3, linewidth=0.8)
                ax.plot(steps, _running_mean(values, window), color=f"C{index}",
                        label=f"{key} (mean of last {window} steps)")
            else:
                ax.plot(steps, values, marker=".", color=f"C{index}", label=key)
        ax.set_xlabel("step")
        ax.set_ylabel(name.replace("_", " "))
        ax.set_title(f"{output_dir.name}: {name.replace('_', ' ')}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        written.append(save_figure(fig, output_dir / f"{name}.png"))
    return written


def finish(trainer, output_dir: Path, train_result, started: float, extra: dict, curves: dict) -> dict:
    """Write log_history.json, metrics.json and the curves; returns the metrics."""
    history = trainer.state.log_history
    (output_dir / "log_history.json").write_text(json.dumps(history, indent=1))
    metrics = {k: v for k, v in train_result.metrics.items() if isinstance(v, (int, float))}
    metrics.update(global_step=trainer.state.global_step, wall_seconds=round(time.time() - started, 1),
                   world_size=trainer.args.world_size, **extra)
    if extra.get("resumed_from") and "train_loss" in metrics:
        metrics.update(whole_run_loss(history, metrics["train_loss"], trainer.state.global_step,
                                      checkpoint_step(extra["resumed_from"])))
    plot_curves(history, output_dir, curves)
    if trainer.accelerator.is_main_process:
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str))
    return metrics
