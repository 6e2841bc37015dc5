"""Self-instruct: new instructions bootstrapped from seed tasks in rounds, filtered, then answered.

Run as: `chatrecipe synth self-instruct --generator openai:gpt-4o-mini --set rounds=3 -o out/`.

Each round (Wang et al. 2022): every request shows the generator a few in-context examples from the pool (seed
tasks, and tasks kept in earlier rounds) and asks for new ones; a new instruction is kept only if it is well
formed, doable by a text-only model (no blacklisted words: images, files, internet), in the expected language,
and its ROUGE-L similarity to every pooled instruction is below the threshold. The kept instructions are then
answered by the generator and the answers checked the same way. Requests are steered toward a target task mix:
each one is given the category furthest below its target share, examples of that category, and a hint.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

from chatrecipe.backends.base import ChatResult, GenerationParams
from chatrecipe.data.schema import record_id
from chatrecipe.synth.args import SelfInstructArgs
from chatrecipe.synth.checks import repetition, text_problem
from chatrecipe.synth.similarity import RougePool
from chatrecipe.synth.sources import load_blacklist, load_seed_tasks, load_template, synth_path
from chatrecipe.synth.summary import Tally, rejection

_TASK = re.compile(
    r"instructions?\s*:\s*(?P<instruction>.*?)(?:\n\s*input\s*:\s*(?P<input>.*?))?"
    r"(?=\n\s*(?:#+\s*|\*+\s*)?task\b|\n\s*(?:\d+[.)]\s*)?instructions?\s*:|\n\s*output\s*:|\Z)", re.I | re.S)
# small generators often write "Task 5: <instruction>" on one line instead of the asked-for layout
_TASK_LINE = re.compile(r"^\s*(?:#+\s*|\*+\s*)?task\s*\d+\s*[:.)-]\s*(?P<instruction>\S.*)$", re.I | re.M)
_NO_INPUT = {"", "<noinput>", "noinput", "none", "n/a", "no input", "-"}


def parse_tasks(text: str) -> list[dict]:
    """Tasks in a generator reply: `Instruction: ...` with an optional `Input: ...` line, or `Task N: ...` lines."""
    tasks = []
    for match in _TASK.finditer(text or ""):
        instruction = match.group("instruction").strip().strip('"').strip()
        task_input = (match.group("input") or "").strip().strip('"').strip()
        tasks.append({"instruction": instruction,
                      "input": "" if task_input.lower().strip("<>.") in _NO_INPUT else task_input})
    if not tasks:
        tasks = [{"instruction": m.group("instruction").strip('"* \t'), "input": ""}
                 for m in _TASK_LINE.finditer(text or "")]
    return tasks


def format_task(task: dict, number: int) -> str:
    return f"Task {number}\nInstruction: {task['instruction']}\nInput: {task['input'] or '<noinput>'}"


def category_descriptions() -> dict[str, str]:
    import yaml

    return yaml.safe_load(synth_path("synth:categories.yaml").read_text(encoding="utf-8"))


def load_target_mix(ref: str | None, seeds: list[dict]) -> dict[str, float]:
    """Category shares to steer toward: a mix file (`mix:` prefix, name or path), or the seed tasks' own mix."""
    from chatrecipe.data.mixes import load_mix

    if ref is None:
        counts = Counter(t["category"] for t in seeds)
        return {c: n / len(seeds) for c, n in counts.items()}
    return load_mix(synth_path(ref) if ref.startswith("mix:") else ref)


def next_category(target: dict[str, float], counts: Counter) -> str:
    """The category furthest below its target share once one more task is added (largest deficit first)."""
    total = sum(counts.values()) + 1
    return max(sorted(target), key=lambda c: target[c] * total - counts[c])


def instruction_problem(task: dict, args: SelfInstructArgs, blacklist: list[str], language: str | None,
                        category: str) -> tuple[str | None, str | None]:
    """(reason, detail) why a new instruction is unusable, before the similarity check; (None, None) if fine."""
    instruction = task["instruction"]
    if not instruction:
        return "malformed", "empty instruction"
    count = len(instruction.split())
    if count < args.min_words:
        return "too short", f"{count} words"
    if count > args.max_words:
        return "too long", f"{count} words"
    lowered = f"{instruction} {task['input']}".lower()
    found = next((w for w in blacklist if re.search(rf"\b{re.escape(w)}\b", lowered)), None)
    if found:
        return "blacklisted", found
    if not instruction[0].isalnum():
        return "starts with punctuation", instruction[:1]
    if repetition(instruction) > 0.5:
        return "repetitive", None
    problem = text_problem(ChatResult(text=instruction), language=language, category=category)
    return (problem, None) if problem else (None, None)


@dataclass
class SelfInstructResult:
    conversations: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def self_instruct(args: SelfInstructArgs, requester, generator: str, *, seed: int, language: str | None,
                  max_new_tokens: int) -> SelfInstructResult:
    """Run the rounds; returns conversations, kept tasks, rejected entries and the report (counts, mix, ROUGE)."""
    rng = random.Random(seed)
    out = SelfInstructResult()
    seeds, bad_seeds = load_seed_tasks(args.seeds)
    out.rejected += [{**b, "file": f"self_instruct.seeds:{b['file']}"} for b in bad_seeds]
    blacklist, template = load_blacklist(args.blacklist), load_template(args.prompt)
    target = load_target_mix(args.target_mix, seeds)
    descriptions = category_descriptions()
    pool = RougePool(args.rouge_threshold)
    pool.extend([t["instruction"] for t in seeds])
    tally, kept_by_category, rounds = Tally(), Counter(), []
    for round_index in range(args.rounds):
        requests, categories, planned = [], [], Counter(kept_by_category)
        for _ in range(max(1, -(-args.tasks_per_round // args.tasks_per_request))):
            category = next_category(target, planned)
            planned[category] += args.tasks_per_request
            examples = _examples(rng, seeds, out.tasks, category, args)
            shown = "\n\n".join(format_task(t, i + 1) for i, t in enumerate(examples))
            requests.append(template.render(examples=shown, num_tasks=args.tasks_per_request, category=category,
                                            category_description=descriptions.get(category, category),
                                            first_number=len(examples) + 1))
            categories.append(category)
        replies = requester.ask(generator, requests, GenerationParams(
            max_new_tokens=max_new_tokens, temperature=args.temperature, top_p=args.top_p,
            seed=seed + round_index), f"self-instruct round {round_index + 1}: new tasks")
        candidates = []
        for reply, category in zip(replies, categories):
            candidates += _candidates(reply, category, args, blacklist, language, pool, tally, out.rejected)
        answers = requester.ask(generator, [[{"role": "user", "content": _prompt_text(t)}] for t in candidates],
                                GenerationParams(max_new_tokens=max_new_tokens, temperature=args.output_temperature,
                                                 seed=seed), f"self-instruct round {round_index + 1}: answers")
        kept_now = 0
        for task, answer in zip(candidates, answers):
            problem = text_problem(answer, language=language, category=task["category"], prompt=task["instruction"])
            if problem:
                tally.reject(f"output: {problem}")
                out.rejected.append(rejection("self_instruct", f"output: {problem}",
                                              {**task, "output": answer.text, "error": answer.error}))
                continue
            task = {**task, "output": answer.text.strip(), "round": round_index + 1}
            out.tasks.append(task)
            kept_by_category[task["category"]] += 1
            kept_now += 1
            messages = [{"role": "user", "content": _prompt_text(task)},
                        {"role": "assistant", "content": task["output"]}]
            out.conversations.append({"id": f"synth-si-{record_id(messages)}", "messages": messages,
                                      "category": task["category"], "source": "synth:self-instruct",
                                      "metadata": {"round": task["round"], "rouge_l_max": task["rouge_l_max"],
                                                   "generator": generator}})
        tally.kept += kept_now
        rounds.append({"round": round_index + 1, "requests": len(requests), "candidates": len(candidates),
                       "kept": kept_now})
    out.report = {**tally.to_dict(), "rounds": rounds, "mix": _mix_report(target, kept_by_category),
                  "rouge": _rouge_report(pool.scores, args.rouge_threshold), "seed_tasks": len(seeds)}
    return out


def _prompt_text(task: dict) -> str:
    return f"{task['instruction']}\n\n{task['input']}" if task["input"] else task["instruction"]


def _examples(rng: random.Random, seeds: list[dict], generated: list[dict], category: str,
              args: SelfInstructArgs) -> list[dict]:
    """In-context examples: seed tasks of the steered category first, then machine tasks, in random order."""
    same = [t for t in seeds if t["category"] == category]
    chosen = rng.sample(same, min(len(same), args.seed_examples))
    others = [t for t in seeds if t["category"] != category]
    chosen += rng.sample(others, min(len(others), args.seed_examples - len(chosen)))
    machine = [t for t in generated if t["category"] == category] or generated
    chosen += rng.sample(machine, min(len(machine), args.machine_examples))
    rng.shuffle(chosen)
    return chosen


def _candidates(reply: ChatResult, category: str, args, blacklist, language, pool: RougePool, tally: Tally,
                rejected: list) -> list[dict]:
    """Admitted new tasks of one reply; every other parsed (or unparseable) one is counted with its reason."""
    if not reply.ok:
        tally.generated += 1
        tally.reject("instruction: request failed")
        rejected.append(rejection("self_instruct", "instruction: request failed", {"error": reply.error}))
        return []
    tasks = parse_tasks(reply.text)
    if not tasks:
        tally.generated += 1
        tally.reject("instruction: malformed")
        rejected.append(rejection("self_instruct", "instruction: malformed (no `Instruction:` line)",
                                  {"reply": reply.text}))
        return []
    if reply.finish_reason == "length":  # the last task was cut off mid-way
        tally.generated += 1
        tally.reject("instruction: truncated")
        rejected.append(rejection("self_instruct", "instruction: truncated", tasks.pop()))
    admitted = []
    for task in tasks[:args.tasks_per_request]:
        tally.generated += 1
        task = {**task, "category": category}
        reason, detail = instruction_problem(task, args, blacklist, language, category)
        if reason is None:
            ok, score, nearest = pool.add(task["instruction"])
            task["rouge_l_max"] = round(score, 4)
            if not ok:
                reason, detail = f"rouge-l >= {args.rouge_threshold}", nearest
        if reason:
            tally.reject(f"instruction: {reason}")
            rejected.append(rejection("self_instruct", f"instruction: {reason}", {**task, "detail": detail}))
        else:
            admitted.append(task)
    extra = len(tasks) - args.tasks_per_request
    if extra > 0:  # asked for N, got more: the surplus is not used (counted, so nothing vanishes)
        tally.generated += extra
        tally.reject("instruction: beyond the number asked for", extra)
    return admitted


def _mix_report(target: dict[str, float], counts: Counter) -> dict:
    total = sum(counts.values())
    achieved = {c: counts[c] / total for c in sorted(counts)} if total else {}
    categories = sorted(set(target) | set(counts))
    distance = 0.5 * sum(abs(target.get(c, 0) - achieved.get(c, 0)) for c in categories) if total else None
    return {"target": {c: round(v, 4) for c, v in target.items()}, "counts": dict(counts),
            "achieved": {c: round(v, 4) for c, v in achieved.items()},
            "total_variation": round(distance, 4) if distance is not None else None}


def _rouge_report(scores: list[float], threshold: float) -> dict:
    """How the novelty filter acted: candidates checked, how many it removed, and their similarity histogram."""
    bins = [0] * 10
    for score in scores:
        bins[min(int(score * 10), 9)] += 1
    return {"checked": len(scores), "removed": sum(s >= threshold for s in scores), "threshold": threshold,
            "mean_max_similarity": round(sum(scores) / len(scores), 4) if scores else None,
            "histogram": {f"{i / 10:.1f}-{(i + 1) / 10:.1f}": n for i, n in enumerate(bins)}}
