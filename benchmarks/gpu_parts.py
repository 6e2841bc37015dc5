"""The parts of benchmarks/gpu_check.py, each run in its own fresh process; prints its figures as one JSON line.

Run as (gpu_check.py does this): `python benchmarks/gpu_parts.py PART --work DIR [--tiny] [--side trl|chatrecipe]`.

Every part drives chatrecipe's own entry points (`train.sft.run`, `train.dpo.run`, `train.reward.run`,
`train.rl.run`, the local generation backend, `chatrecipe run`, pytest), so what passes here is what users run.
Models are random-initialised from configs of real shapes (`SHAPES`) with the embedded model's tokenizer; `--tiny`
shrinks every shape to 2 layers so that the same code runs on a CPU in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from gpu_models import ROOT, cuda, model_folders, part_models, peak_memory, starter, tokenizer_folder, \
    write_conversations
from gpu_stages import part_dpo, part_qlora, part_rl, part_rm

# How much each timed part trains: (conversations chained per example, batch, steps, steps not timed)
SFT_PLAN = {"full": {"shape": "smollm2-1.7b", "chain": (2, 24), "batch": 8, "steps": 12, "warmup": 3},
            "lora": {"shape": "llama-3.1-8b", "chain": (2, 24), "batch": 8, "steps": 8, "warmup": 3}}


TINY_SFT_PLAN = {"chain": (1, 3), "batch": 2, "steps": 3, "warmup": 1}


def part_peak(args) -> dict:
    """The chip's measured bf16 matmul rate (the MFU denominator), the device and the versions in use."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    size, repeats = (8192, 10) if cuda() and not args.tiny else (512, 4)
    device = "cuda" if cuda() else "cpu"
    dtype = torch.bfloat16 if cuda() else torch.float32
    a, b = (torch.randn(size, size, dtype=dtype, device=device) for _ in range(2))
    for _ in range(3):
        torch.matmul(a, b)
    if cuda():
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            torch.matmul(a, b)
        end.record()
        torch.cuda.synchronize()
        seconds = start.elapsed_time(end) / 1000
    else:
        started = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b)
        seconds = time.perf_counter() - started
    versions = {"python": platform.python_version()}
    for package in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "liger-kernel",
                    "bitsandbytes", "triton"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    device_info = {"name": torch.cuda.get_device_name(0), "capability": list(torch.cuda.get_device_capability(0)),
                   "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2 ** 30, 1)} \
        if cuda() else {"name": platform.processor() or "cpu", "cpus": os.cpu_count()}
    return {"peak_tflops": 2 * size ** 3 * repeats / seconds / 1e12, "matmul": f"{size}^3 {dtype}",
            "device": device_info, "versions": versions}


class StepTimer:
    """Times steady-state steps (after `warmup` steps: kernel compilation, autotuning and the allocator's first
    growth stay out) and counts their real tokens through the trainer's `num_input_tokens_seen`."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        self.warmup, self.marks, self.losses = warmup, [], []
        timer = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if cuda():
                    import torch

                    torch.cuda.synchronize()
                timer.marks.append((time.perf_counter(), state.num_input_tokens_seen))

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    timer.losses.append(logs["loss"])

        self.callback = Callback()

    def tokens_per_second(self) -> float | None:
        """Real tokens per second from the end of the last warm-up step to the end of the last step."""
        if len(self.marks) <= max(1, self.warmup):
            return None
        (t0, n0), (t1, n1) = self.marks[max(1, self.warmup) - 1], self.marks[-1]
        return (n1 - n0) / (t1 - t0)


def sft_sections(method: str) -> dict[str, dict]:
    """The same training with TRL's default performance settings and with chatrecipe's (bench_sft.py's sides)."""
    common = {"method": method, "per_device_train_batch_size": 8, "learning_rate": 1e-4, "logging_steps": 1,
              "save_strategy": "no", "seed": 0, "lr_scheduler_type": "linear", "max_length": 2048,
              "include_num_input_tokens_seen": "non_padding"}
    trl = {**common, "padding_free": False, "activation_checkpointing": True, "lora_dropout": 0.05,
           "lm_head": "fused", "attn_implementation": "sdpa", "keep_freed_memory": False, "use_liger_kernel": False,
           "dtype": "float32", "optim": "adamw_torch_fused" if cuda() else "adamw_torch"}
    return {"trl": trl, "chatrecipe": dict(common)}


def part_sft(args, method: str) -> dict:
    """One side of the SFT comparison: steady tokens/s, peak memory, losses, the settings each side resolved to."""
    import shutil

    from chatrecipe.train import sft

    plan = {**SFT_PLAN[method], **(TINY_SFT_PLAN if args.tiny else {})}
    section = sft_sections(method)[args.side]
    section.update(per_device_train_batch_size=plan["batch"], max_steps=plan["steps"])
    if not cuda():
        section["bf16"] = False
    data = write_conversations(args.work / f"sft-{method}.jsonl", plan["batch"] * plan["steps"], plan["chain"])
    output = args.work / "out" / f"sft-{method}-{args.side}"
    timer = StepTimer(plan["warmup"])
    metrics = sft.run(section, model=str(model_folders(args.work)[plan["shape"]]), train_files=[data],
                      output_dir=output, resume=False, callbacks=(timer.callback,))
    lengths = _token_lengths(data, output)
    shutil.rmtree(output, ignore_errors=True)  # a 1.7B model's final weights are 7 GB of disk
    return {"shape": plan["shape"], "tokens_per_second": timer.tokens_per_second(), "steps": metrics["global_step"],
            "timed_steps": plan["steps"] - plan["warmup"], "loss": metrics["train_loss"], "losses": timer.losses,
            "mean_attended_length": sum(n * n for n in lengths) / max(1, sum(lengths)),
            "examples": len(lengths), "settings": metrics["settings"],
            "memory_estimate": metrics.get("memory_estimate"), **peak_memory()}


def _token_lengths(data: Path, output: Path) -> list[int]:
    from chatrecipe.models import load_tokenizer

    tokenizer = load_tokenizer(str(tokenizer_folder()))
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    return [len(tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"])
            for r in rows]


def part_generate(args) -> dict:
    """Batched generation through chatrecipe's local backend (on the card, bf16): completion tokens per second."""
    from chatrecipe.backends import load_backend
    from chatrecipe.backends.base import GenerationParams

    prompts = [[{"role": "user", "content": r["messages"][0]["content"]}] for r in starter("conversation")]
    count, batch, new = (64, 32, 128) if cuda() and not args.tiny else (4, 4, 8)
    backend = load_backend(str(model_folders(args.work)["smollm2-1.7b"]), batch_size=batch)
    backend.chat(prompts[:batch], GenerationParams(max_new_tokens=4))  # warm-up
    started = time.perf_counter()
    results = backend.chat(prompts[:count], GenerationParams(max_new_tokens=new))
    seconds = time.perf_counter() - started
    tokens = sum(r.completion_tokens for r in results)
    return {"tokens_per_second": tokens / seconds, "completion_tokens": tokens, "prompts": count, "batch": batch,
            "max_new_tokens": new, "dtype": backend.describe()["dtype"], "device": str(backend.network.device),
            **peak_memory()}


RECIPE = "recipes/zephyr-7b-beta.yaml"


def recipe_overrides(work: Path, model: Path) -> list[str]:
    """Shrink the Zephyr recipe to a few steps on the shrunk Mistral, on the starter data, judged by itself."""
    sets = [f"model.name={model}", "data.sft_files=[starter:sft.jsonl]",
            "data.preference_files=[starter:preferences.jsonl]", "data.eval_questions=questions:chatrecipe-eval.jsonl",
            "data.size=32",
            "sft.max_steps=3", "sft.per_device_train_batch_size=4", "sft.gradient_accumulation_steps=1",
            "dpo.max_steps=2", "dpo.per_device_train_batch_size=2", "dpo.gradient_accumulation_steps=1",
            "generate.max_questions=4", "generate.max_new_tokens=16", f"judge.model={model}",
            "judge.max_new_tokens=16", "eval.bootstrap=50"]
    if not cuda():
        sets += ["sft.bf16=false", "dpo.bf16=false"]
    return sets


def part_recipe(args) -> dict:
    """`chatrecipe run` of the Zephyr recipe, shrunk through --set: every stage must finish."""
    runs = args.work / "runs"
    model = model_folders(args.work)["mistral-7b-shrunk"]
    command = [sys.executable, "-m", "chatrecipe.cli", "run", RECIPE, "--runs-dir", str(runs)]
    for assignment in recipe_overrides(args.work, model):
        command += ["--set", assignment]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    manifests = list(runs.glob("*/manifest.json"))
    stages = json.loads(manifests[0].read_text())["stages"] if manifests else {}
    statuses = {name: stage.get("status") for name, stage in stages.items()}
    result = {"recipe": RECIPE, "returncode": done.returncode, "stages": statuses,
              "all_done": done.returncode == 0 and bool(statuses) and all(s == "done" for s in statuses.values()),
              "sft_loss": stages.get("sft", {}).get("metrics", {}).get("train_loss"),
              "dpo_loss": stages.get("dpo", {}).get("metrics", {}).get("train_loss")}
    if done.returncode != 0:
        result["error"] = done.stderr[-2000:]
    return result


def part_gpu_tests(args) -> dict:
    """pytest -m gpu over the test files that hold gpu-marked tests (skipped on a CPU, run on a GPU)."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                   if "mark.gpu" in p.read_text(encoding="utf-8"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-rs",
                           *files], cwd=ROOT, capture_output=True, text=True)
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)",
                                                     done.stdout.splitlines()[-1] if done.stdout else "")}
    counts["errors"] = counts.pop("error", 0) + counts.pop("errors", 0)
    result = {"files": files, "returncode": done.returncode, **{k: counts.get(k, 0) for k in
                                                                 ("passed", "failed", "skipped", "errors")}}
    if done.returncode not in (0, 5):
        result["error"] = done.stdout[-2500:]
    return result


PARTS = {"peak": part_peak, "models": part_models, "sft_full": lambda a: part_sft(a, "full"),
         "sft_lora": lambda a: part_sft(a, "lora"), "generate": part_generate, "dpo": part_dpo, "rm": part_rm,
         "rl": part_rl, "qlora": part_qlora, "recipe": part_recipe, "gpu_tests": part_gpu_tests}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--side", choices=["trl", "chatrecipe"], default="chatrecipe")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    print(json.dumps(PARTS[args.part](args), default=str))



if __name__ == "__main__":
    main()
