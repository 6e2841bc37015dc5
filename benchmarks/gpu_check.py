"""The first run on a GPU, as one command: speed and memory of chatrecipe's defaults against TRL's, and every GPU
path of the training stages, the generation backend and `chatrecipe run`, each part in a fresh process.

Run as: `make gpu-check` or `python benchmarks/gpu_check.py [--budget 480] [--out DIR]` on a CUDA machine (sized
for at most 8 minutes on one H200, not yet timed on one; benchmarks/GPU_CHECK.md says what each figure means and
how to carry the missing wheels to a machine without network), and `python benchmarks/gpu_check.py --tiny` anywhere: 2-layer models and a few steps
of each part, which is what the test suite runs (tests/benchmarks/test_gpu_check.py) so that no path rots.

Parts, in order: the chip's measured bf16 matmul peak; random-initialised models of real shapes (SmolLM2-1.7B,
Llama-3.1-8B, SmolLM2-360M and a 2-layer Mistral-7B) with the embedded model's tokenizer; full SFT of the 1.7B
shape and LoRA SFT of the 8B shape, each with TRL's default performance settings and with chatrecipe's, one after
the other (steady-state tokens/s, peak memory, MFU, losses); batched generation; then, side by side on the card
(correctness, not speed): LoRA DPO, a margin reward model, RLOO, QLoRA, the Zephyr recipe through `chatrecipe run`
shrunk with --set, and the gpu-marked tests. It prints a table, then the whole summary as one JSON line (also
written to DIR/gpu_check.json), and exits non-zero when a part failed; the speed goals are reported, not enforced.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fresh_process import run_part

PARTS_SCRIPT = str(Path(__file__).resolve().parent / "gpu_parts.py")
# (part, --side, seconds it may take on one H200); the timed parts run one at a time
TIMED = [("peak", None, 60), ("models", None, 150), ("sft_full", "trl", 150), ("sft_full", "chatrecipe", 150),
         ("sft_lora", "trl", 200), ("sft_lora", "chatrecipe", 200), ("generate", None, 90)]
# correctness parts: together on the card once the timed ones are done
TOGETHER = [("dpo", 200), ("rm", 200), ("rl", 200), ("qlora", 200), ("recipe", 300), ("gpu_tests", 300)]
GOALS = {"speedup": 1.3, "mfu_full": 0.40, "loss_difference": 0.02}


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def part_ok(name: str, result: dict) -> str:
    """ok | skipped | FAILED: what each part must show to pass."""
    if str(result.get("error", "")).startswith("not run"):
        return "not run"
    if "error" in result:
        return "FAILED"
    if result.get("skipped"):
        return "skipped"
    checks = {
        "peak": lambda r: r.get("peak_tflops", 0) > 0,
        "models": lambda r: bool(r.get("models")),
        "sft_full": lambda r: r.get("tokens_per_second") and finite(r.get("loss")),
        "sft_lora": lambda r: r.get("tokens_per_second") and finite(r.get("loss")),
        "generate": lambda r: r.get("tokens_per_second", 0) > 0,
        "qlora": lambda r: r.get("loss_finite") and r.get("weights_changed") and r.get("weights_finite"),
        "recipe": lambda r: r.get("all_done"),
        "gpu_tests": lambda r: r.get("returncode") in (0, 5) and not r.get("failed") and not r.get("errors"),
    }
    trained = lambda r: r.get("loss_finite") and r.get("weights_changed") and r.get("weights_finite")  # noqa: E731
    passed = checks.get(name, trained)(result)
    if name == "gpu_tests" and passed and not result.get("passed"):
        return "skipped"  # nothing ran: no GPU here
    return "ok" if passed else "FAILED"


def finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def compare(results: dict, models: dict, peak_tflops: float | None) -> dict:
    """chatrecipe's side against TRL's for each timed SFT: speed-up, loss difference, MFU of each side.

    MFU counts 6 FLOPs per matmul parameter and token for full training and 4 for LoRA (frozen weights need no
    weight gradient), plus causal attention's 6 * layers * width * attended length; recomputation is not counted.
    """
    comparisons = {}
    for method in ("full", "lora"):
        trl, ours = results.get(f"sft_{method}:trl", {}), results.get(f"sft_{method}:chatrecipe", {})
        if not (trl.get("tokens_per_second") and ours.get("tokens_per_second")):
            continue
        shape = models.get(ours["shape"], {})
        flops = None
        if shape:
            flops = ((6 if method == "full" else 4) * shape["matmul_parameters"]
                     + 6 * shape["layers"] * shape["attention_width"] * ours["mean_attended_length"])
        mfu = {side: r["tokens_per_second"] * flops / (peak_tflops * 1e12) if flops and peak_tflops else None
               for side, r in (("trl", trl), ("chatrecipe", ours))}
        comparisons[method] = {
            "shape": ours["shape"], "speedup": ours["tokens_per_second"] / trl["tokens_per_second"],
            "loss_difference": abs(ours["loss"] - trl["loss"]) / abs(trl["loss"]),
            "tokens_per_second": {"trl": trl["tokens_per_second"], "chatrecipe": ours["tokens_per_second"]},
            "peak_allocated_gib": {"trl": trl.get("peak_allocated_gib"), "chatrecipe": ours.get("peak_allocated_gib")},
            "mfu": mfu, "flops_per_token": flops,
            "memory_estimate_gib": {side: round(r["memory_estimate"]["total"] / 2 ** 30, 2)
                                    for side, r in (("trl", trl), ("chatrecipe", ours)) if r.get("memory_estimate")}}
    return comparisons


def goals(comparisons: dict) -> dict:
    """Each goal: met, missed, or not measured."""
    full, lora = comparisons.get("full", {}), comparisons.get("lora", {})

    def verdict(value, goal, at_least=True):
        if value is None:
            return "not measured"
        return "met" if (value >= goal if at_least else value <= goal) else "missed"

    differences = [c["loss_difference"] for c in (full, lora) if c]
    return {"full SFT >= 1.3x TRL's defaults": verdict(full.get("speedup"), GOALS["speedup"]),
            "LoRA SFT >= 1.3x TRL's defaults": verdict(lora.get("speedup"), GOALS["speedup"]),
            "full SFT MFU >= 40%": verdict((full.get("mfu") or {}).get("chatrecipe"), GOALS["mfu_full"]),
            "losses within 2%": verdict(max(differences) if differences else None, GOALS["loss_difference"],
                                        at_least=False)}


def run_all(args) -> dict:
    """Every part in its fresh process within the time budget; a part that would start too late is not run."""
    started = time.perf_counter()
    common = ["--work", str(args.work)] + (["--tiny"] if args.tiny else [])
    results: dict[str, dict] = {}

    def remaining() -> float:
        return args.budget - (time.perf_counter() - started)

    def launch(name, side, limit) -> dict:
        left = remaining()
        if left < min(limit / 3, 60):  # too little time to finish: say so rather than time out half-way
            return {"error": "not run: the time budget was spent", "seconds": 0}
        extra = ["--side", side] if side else []
        return run_part(PARTS_SCRIPT, [name, *common, *extra], timeout=min(limit, left))

    wanted = set(args.only.split(",")) | {"peak", "models"} if args.only else None
    for name, side, limit in TIMED:
        key = f"{name}:{side}" if side else name
        if wanted and name not in wanted:
            continue
        results[key] = launch(name, side, limit)
        print(f"  {key:<22} {part_ok(name, results[key]):<8} {results[key].get('seconds', 0):6.1f} s", flush=True)
        if name == "models" and "error" in results[key]:
            break  # every later part trains these models
    if "error" not in results.get("models", {"error": True}):
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            futures = {name: pool.submit(launch, name, None, limit) for name, limit in TOGETHER
                       if not wanted or name in wanted}
            for name, future in futures.items():
                results[name] = future.result()
                print(f"  {name:<22} {part_ok(name, results[name]):<8} {results[name].get('seconds', 0):6.1f} s",
                      flush=True)
    everything = {n for n, _, _ in TIMED} | {n for n, _ in TOGETHER}
    return {"results": results, "seconds": round(time.perf_counter() - started, 1), "wanted": wanted or everything}


def summarise(run: dict, tiny: bool) -> dict:
    results = run["results"]
    peak = results.get("peak", {})
    models = results.get("models", {}).get("models", {})
    comparisons = compare(results, models, peak.get("peak_tflops"))
    statuses = {key: part_ok(key.split(":")[0], r) for key, r in results.items()}
    expected = [f"{n}:{s}" if s else n for n, s, _ in TIMED] + [n for n, _ in TOGETHER]
    statuses.update({key: "not run" for key in expected if key not in statuses and key.split(":")[0] in
                     run.get("wanted", {key.split(":")[0]})})
    return {"tiny": tiny, "device": peak.get("device"), "versions": peak.get("versions"),
            "peak_tflops": peak.get("peak_tflops"), "seconds": run["seconds"], "statuses": statuses,
            "ok": all(s in ("ok", "skipped") for s in statuses.values()), "comparisons": comparisons,
            "goals": None if tiny else goals(comparisons), "parts": results}


def table(summary: dict) -> str:
    """The figures a person reads first; the JSON line after it has everything."""
    lines = [f"device: {(summary['device'] or {}).get('name')}   measured bf16 matmul peak: "
             f"{summary['peak_tflops'] or 0:.3g} TFLOP/s   total {summary['seconds']:.0f} s"
             + ("   (--tiny: 2-layer models; figures are not speed claims)" if summary["tiny"] else "")]
    lines.append(f"{'SFT':<6} {'shape':<14} {'side':<11} {'tokens/s':>10} {'MFU':>6} {'peak GiB':>9} {'loss':>8}")
    for method, c in summary["comparisons"].items():
        for side in ("trl", "chatrecipe"):
            r = summary["parts"][f"sft_{method}:{side}"]
            mfu = c["mfu"][side]
            lines.append(f"{method:<6} {c['shape']:<14} {side:<11} {c['tokens_per_second'][side]:>10.0f} "
                         f"{'' if mfu is None else f'{100 * mfu:.1f}%':>6} {r.get('peak_allocated_gib') or 0:>9.1f} "
                         f"{r['loss']:>8.4f}")
        lines.append(f"{'':<6} chatrecipe / TRL: {c['speedup']:.2f}x tokens/s, losses differ by "
                     f"{100 * c['loss_difference']:.2f}%")
    generate = summary["parts"].get("generate", {})
    if generate.get("tokens_per_second"):
        lines.append(f"generation: {generate['tokens_per_second']:.0f} tokens/s ({generate['prompts']} prompts, "
                     f"batch {generate['batch']}, {generate['dtype']} on {generate['device']})")
    lines.append("parts: " + ", ".join(f"{k} {v}" for k, v in summary["statuses"].items()))
    for goal, verdict in (summary["goals"] or {}).items():
        lines.append(f"goal {goal}: {verdict}")
    for key, result in summary["parts"].items():
        if "error" in result:
            lines.append(f"--- {key}: {result['error']}\n{result.get('stderr', '')[-1200:]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="2-layer models, a few steps: runs on a CPU")
    parser.add_argument("--budget", type=float, help="seconds for all parts together (default 480; 1800 with "
                        "--tiny, whose CPU may be busy)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one)")
    parser.add_argument("--out", type=Path, help="where gpu_check.json goes (default: $OUT, else the work folder)")
    parser.add_argument("--parallel", type=int, default=None, help="correctness parts run at once (default 6 on "
                        "a GPU, 2 on a CPU)")
    parser.add_argument("--only", help="comma-separated parts to run (a rerun of the ones that failed), e.g. "
                        "recipe,gpu_tests; the peak and the models are always made")
    parser.add_argument("--keep", action="store_true", help="keep the models and outputs in the work folder")
    args = parser.parse_args()
    if not args.tiny and not has_cuda():
        sys.exit("gpu_check.py needs a CUDA GPU; on a CPU, `python benchmarks/gpu_check.py --tiny` runs every part "
                 "on 2-layer models")
    args.budget = args.budget or (1800 if args.tiny else 480)
    args.work = args.work or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    args.work.mkdir(parents=True, exist_ok=True)
    args.parallel = args.parallel or (6 if has_cuda() else 2)
    out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else args.work)
    print(f"gpu_check: work folder {args.work}, budget {args.budget:.0f} s", flush=True)
    summary = summarise(run_all(args), args.tiny)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(summary, indent=1, default=str))
    if not args.keep:
        for folder in ("models", "out", "runs"):
            shutil.rmtree(args.work / folder, ignore_errors=True)
    print(table(summary))
    print(json.dumps(summary, default=str))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
