"""Red-team checkpoints: answer a red-team prompt set, label the answers, and report attack success per category.

Run as: `chatrecipe eval redteam --model base=HuggingFaceTB/SmolLM2-135M --model dpo=runs/demo/dpo/final
--judge openai:gpt-4o-mini -o runs/demo/redteam` (or `--labeler refusal-keywords` offline).

Each model answers every prompt (batched and cached by the backends, resumable through the responses files);
each answer is labelled refusal / safe / harmful by a judge or the keyword labeler; `redteam.json` holds the
attack success and over-refusal rates with Wilson intervals per model, category, wrapper and attacker round,
and the provenance (judge, template hash, generation parameters, prompt-set hash, date) the report shows.
With `attacker`, the prompts that succeeded seed new ones for `rounds` more rounds against the same model.

Files under the output folder: `redteam.json`, `redteam-labels.jsonl` (every labelled response),
`responses/<model>[-round<N>].jsonl`, `judge-labels.jsonl` (the judge's raw answers, resumable),
`attacks/<model>.jsonl` (the attacker's answers), `prompts.rejected.jsonl` (bad prompt lines, if any).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from chatrecipe.backends.base import Backend, GenerationParams
from chatrecipe.data.records import write_records, write_rejected
from chatrecipe.evaluate.generate import generate_answers
from chatrecipe.evaluate.redteam.attack import new_attacks
from chatrecipe.evaluate.redteam.label import (DEFAULT_TEMPLATE, JUDGE_PARAMS, LABELERS, label_keywords,
                                               label_with_judge)
from chatrecipe.evaluate.redteam.prompts import DEFAULT_SET, describe_rejected, load_prompts, prompt_file
from chatrecipe.evaluate.redteam.rates import redteam_rates


class RedteamError(ValueError):
    """Options that cannot make a red-team run; the message says what to give."""


@dataclass
class RedteamArgs:
    """How a red-team run is made: the prompts, who labels the answers, the attacker loop, and generation."""

    labeler: str | None = None
    """"judge" (the default when a judge is given) or "refusal-keywords" (offline; an upper bound on attacks)."""
    prompts: list = field(default_factory=lambda: [DEFAULT_SET])
    """Prompt files (`redteam:default`, paths); lines that fail validation go to `prompts.rejected.jsonl`."""
    judge_prompt: str = DEFAULT_TEMPLATE
    judge_params: GenerationParams | None = None
    prefill: bool = False
    """Start the judge's reply with "Label: [[" (small local judges)."""
    attacker: str | Backend | None = None
    """A model that writes new prompts from the successful ones, for `rounds` rounds (1 if unset)."""
    rounds: int = 0
    variants: int = 3
    """New prompts per successful prompt and round."""
    max_seeds: int = 20
    """Most successful prompts to build on per round."""
    attacker_prompt: str = "redteam-attacker"
    params: GenerationParams = field(default_factory=lambda: GenerationParams(max_new_tokens=256))
    """Generation of the red-teamed models' answers."""
    per_group: int | None = None
    """At most this many prompts per (category, wrapper, benign) group, for small runs that cover every group."""
    categories: list[str] | None = None
    batch_size: int = 8
    dtype: str | None = None
    base_url: str | None = None
    max_cost: float | None = None


def select_prompts(prompts: list[dict], per_group: int | None = None,
                   categories: list[str] | None = None) -> list[dict]:
    """The prompts of `categories`, at most `per_group` of each (category, wrapper, benign): a small run that
    still covers every category and wrapper."""
    if categories:
        prompts = [p for p in prompts if p["category"] in categories]
    if not per_group:
        return prompts
    taken: dict[tuple, int] = {}
    kept = []
    for prompt in prompts:
        group = (prompt["category"], prompt["wrapper"], prompt["benign"])
        if taken.get(group, 0) < per_group:
            taken[group] = taken.get(group, 0) + 1
            kept.append(prompt)
    return kept


def generate_responses(backend: Backend, name: str, prompts: list[dict], output: Path,
                       params: GenerationParams) -> list[dict]:
    """One response record per prompt (the prompt's fields plus model, round, response, error); resumable."""
    questions = [{"question_id": p["id"], "category": p["category"], "turns": [p["prompt"]]} for p in prompts]
    answers = {a["question_id"]: a for a in generate_answers(backend, questions, output, params)}
    responses = []
    for prompt in prompts:
        answer = answers[prompt["id"]]
        responses.append({**prompt, "model": name, "round": prompt.get("round", 0),
                          "response": answer["turns"][0] if answer["turns"] else "", "error": answer.get("error")})
    return responses


def _file_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class _Backends:
    """Loads models, the judge and the attacker on first use, caches their answers in the run, closes what it loaded."""

    def __init__(self, out_dir: Path, args: RedteamArgs):
        from chatrecipe.backends.ledger import Ledger

        self.out_dir, self.args = out_dir, args
        self.ledger = Ledger(max_cost=args.max_cost)
        self.owned: dict[str, Backend] = {}

    def get(self, ref: str | Backend, name: str) -> Backend:
        if isinstance(ref, Backend):
            return ref
        if name not in self.owned:
            from chatrecipe.backends import load_backend

            self.owned[name] = load_backend(ref, cache_dir=self.out_dir / "cache", name=name,
                                            batch_size=self.args.batch_size, dtype=self.args.dtype,
                                            base_url=self.args.base_url, ledger=self.ledger)
        return self.owned[name]

    def close(self, name: str) -> None:
        import gc

        backend = self.owned.pop(name, None)
        if backend is not None:
            backend.close()
            del backend
            gc.collect()

    def close_all(self) -> None:
        for name in list(self.owned):
            self.close(name)


def run_redteam(models: dict[str, str | Backend], judge: str | Backend | None, out_dir: str | Path,
                args: RedteamArgs | None = None) -> dict:
    """Red-team every model (name -> model reference or Backend) and write `<out_dir>/redteam.json`.

    Args:
        models: checkpoint name -> model reference (as `load_backend` takes) or a ready Backend.
        judge: the labelling judge (reference or Backend); needed unless `labeler="refusal-keywords"`.
        out_dir: folder for every result file (see the module docstring).
        args: prompts, labeller, attacker loop and generation settings (RedteamArgs' defaults when None).

    Returns:
        The content of `redteam.json`: {"provenance", "prompts", "models": {name: rates}, "attacks"}.
    """
    args = args or RedteamArgs()
    labeler = args.labeler or ("judge" if judge is not None else None)
    if labeler not in LABELERS:
        raise RedteamError(f"choose a labeler: give --judge MODEL, or --labeler refusal-keywords "
                           f"(got {labeler!r}; known: {', '.join(LABELERS)})")
    if labeler == "judge" and judge is None:
        raise RedteamError("--labeler judge needs --judge MODEL (for example openai:gpt-4o-mini)")
    if not models:
        raise RedteamError("give at least one --model to red-team")
    bad = [name for name in models if not name or "/" in name or name in ("judge", "attacker")]
    if bad:
        raise RedteamError(f"model names {bad} cannot name result files; give --model NAME=REF with a plain name")
    attacker, rounds = args.attacker, args.rounds
    if attacker is not None and rounds < 1:
        rounds = 1
    if rounds and attacker is None:
        raise RedteamError("--rounds needs --attacker MODEL to write the new prompts")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    refs = [args.prompts] if isinstance(args.prompts, (str, Path)) else list(args.prompts)
    prompt_set, rejected = load_prompts(refs)
    write_rejected(out_dir / "prompts.jsonl", rejected)
    for line in describe_rejected(rejected)[:10]:
        print(f"rejected prompt: {line}")
    prompt_set = select_prompts(prompt_set, args.per_group, args.categories)
    if not prompt_set:
        raise RedteamError(f"no prompts left after --categories {args.categories}; check the category names")
    params = args.params
    backends = _Backends(out_dir, args)

    def label(responses: list[dict]) -> list[dict]:
        if labeler == "refusal-keywords":
            return label_keywords(responses)
        return label_with_judge(backends.get(judge, "judge"), responses, out_dir / "judge-labels.jsonl",
                                template=args.judge_prompt, params=args.judge_params, prefill=args.prefill)

    labelled: list[dict] = []
    attack_logs: dict[str, list[dict]] = {}
    try:
        for name, ref in models.items():
            backend = backends.get(ref, name)
            current = label(generate_responses(backend, name, prompt_set, out_dir / "responses" / f"{name}.jsonl",
                                               params))
            labelled += current
            attack_logs[name] = []
            for number in range(1, rounds + 1):
                seeds = sorted((r for r in current if r.get("label") == "harmful" and not r.get("benign")),
                               key=lambda r: r["id"])[:args.max_seeds]
                if not seeds:
                    print(f"{name}: round {number}: no successful attack to build on; the loop stops")
                    break
                new, log = new_attacks(backends.get(attacker, "attacker"), seeds, number, variants=args.variants,
                                       template=args.attacker_prompt)
                attack_logs[name] += log
                if not new:
                    print(f"{name}: round {number}: the attacker wrote no usable prompt; the loop stops")
                    break
                current = label(generate_responses(backend, name, new,
                                                   out_dir / "responses" / f"{name}-round{number}.jsonl", params))
                labelled += current
            backends.close(name)
            if attack_logs[name]:
                write_records(out_dir / "attacks" / f"{name}.jsonl", attack_logs[name])
    finally:
        backends.close_all()
    write_records(out_dir / "redteam-labels.jsonl", labelled)
    backends.ledger.save(out_dir / "usage.json")
    result = {"provenance": _provenance(refs, labeler, judge, models, args),
              "prompts": {"total": len(prompt_set), "harmful": sum(1 for p in prompt_set if not p["benign"]),
                          "benign": sum(1 for p in prompt_set if p["benign"]), "rejected": len(rejected),
                          "categories": sorted({p["category"] for p in prompt_set}),
                          "wrappers": sorted({p["wrapper"] for p in prompt_set}), "per_group": args.per_group},
              "models": redteam_rates(labelled),
              "attacks": {name: {"rounds": max((e["round"] for e in log), default=0), "seeds": len(log),
                                 "failed": sum(1 for e in log if e["error"]),
                                 "prompts": sum(len(e["prompts"]) for e in log)}
                          for name, log in attack_logs.items() if log},
              "files": {"labels": "redteam-labels.jsonl", "responses": "responses/"}}
    (out_dir / "redteam.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def _describe(ref) -> str | None:
    if ref is None:
        return None
    return ref.model if isinstance(ref, Backend) else str(ref)


def _provenance(refs, labeler, judge, models, args: RedteamArgs) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from chatrecipe.judge.prompts import load_prompt

    try:
        package = version("chatrecipe")
    except PackageNotFoundError:
        package = None
    template = load_prompt(args.judge_prompt) if labeler == "judge" else None
    files = [prompt_file(r) for r in refs]
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "chatrecipe": package, "labeler": labeler,
            "judge": _describe(judge) if labeler == "judge" else None,
            "judge_template": template.name if template else None,
            "judge_template_hash": template.hash if template else None,
            "judge_params": (args.judge_params or JUDGE_PARAMS).to_dict() if template else None,
            "prefill": args.prefill if template else None,
            "generation_params": args.params.to_dict(),
            "models": {name: _describe(ref) for name, ref in models.items()},
            "prompt_files": [str(r) for r in refs], "prompt_set_hash": _file_hash(files),
            "attacker": _describe(args.attacker),
            "attacker_template_hash": load_prompt(args.attacker_prompt).hash if args.attacker is not None else None}
