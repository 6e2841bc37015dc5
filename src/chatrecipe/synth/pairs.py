"""AI-feedback preference pairs: sample k responses per prompt, rate them, keep the best against a worse one.

Run as: `chatrecipe synth pairs --set prompt_files='[starter:sft.jsonl]' --set k=4 -o out/`.

Responses come from one or several models at one or several temperatures (round-robin over the k samples, each
sample with its own seed, so each has its own cache entry). A judge grades each 1-10 (`single`) or compares
every two in both orders (`pairwise`, rating = wins + half the ties), or a reward model scores them (`reward`).
Binarisation follows UltraFeedback: the best-rated response is chosen, and the rejected one is the worst
(`best-worst`) or a random lower-rated other (`best-random`); the rating difference is the margin and ties are
dropped. An unparseable verdict is a recorded failure: the response is unrated, never given a default grade.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chatrecipe.backends.base import GenerationParams
from chatrecipe.data.schema import record_id
from chatrecipe.synth.args import PairsArgs
from chatrecipe.synth.checks import text_problem
from chatrecipe.synth.sources import SynthInputError, synth_path
from chatrecipe.synth.summary import Tally, rejection


def prompt_from(record: dict) -> list[dict] | None:
    """The prompt of a question, conversation or preference record: its messages up to the last user turn."""
    if "turns" in record:
        return [{"role": "user", "content": record["turns"][0]}]
    messages = record.get("prompt") if "prompt" in record else record.get("messages")
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    last = max((i for i, m in enumerate(messages or []) if m["role"] == "user"), default=None)
    return list(messages[:last + 1]) if last is not None else None


def collect_prompts(args: PairsArgs, upstream: list[dict], rng: random.Random, rejected: list) -> list[dict]:
    """Prompts from upstream conversations (self-instruct, roleplay) and files; deduplicated, then sampled."""
    from chatrecipe.data.records import load_records

    sources = [(r, r.get("source") or "synth") for r in upstream]
    for ref in args.prompt_files:
        loaded = load_records(synth_path(ref))
        rejected += [{**bad, "file": f"pairs.prompts:{bad['file']}"} for bad in loaded.rejected]
        sources += [(r, ref) for r in loaded.records]
    prompts, seen = [], set()
    for record, source in sources:
        prompt = prompt_from(record)
        key = record_id(prompt) if prompt else None
        if prompt and key not in seen:
            seen.add(key)
            prompts.append({"id": key, "prompt": prompt, "category": record.get("category") or "other",
                            "source": source})
    if not prompts:
        raise SynthInputError("pairs: no prompts; set pairs.prompt_files or run self_instruct/roleplay first")
    if args.max_prompts is not None and len(prompts) > args.max_prompts:
        prompts = rng.sample(prompts, args.max_prompts)
    return prompts


def transcript(prompt: list[dict]) -> str:
    """What the judge reads as the question: the last user turn, after the earlier turns of a dialog."""
    if len(prompt) == 1:
        return prompt[0]["content"]
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in prompt[:-1] if m["role"] != "system"]
    return "Earlier in this conversation:\n" + "\n\n".join(lines) + f"\n\nThe user now says:\n{prompt[-1]['content']}"


@dataclass
class PairsResult:
    pairs: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def make_pairs(args: PairsArgs, requester, generator: str, *, seed: int, language: str | None,
               max_new_tokens: int, output_dir: Path, upstream: list[dict]) -> PairsResult:
    """Sample, rate and binarise; returns preference records, rejected entries and the report."""
    rng = random.Random(seed)
    out = PairsResult()
    prompts = collect_prompts(args, upstream, rng, out.rejected)
    models = args.models or [generator]
    samples = [(models[j % len(models)], args.temperatures[j % len(args.temperatures)]) for j in range(args.k)]
    tally, response_problems = Tally(generated=len(prompts)), Counter()
    responses: list[list[str | None]] = [[None] * args.k for _ in prompts]
    for j, (model, temperature) in enumerate(samples):
        results = requester.ask(model, [p["prompt"] for p in prompts], GenerationParams(
            max_new_tokens=max_new_tokens, temperature=temperature, seed=seed + j), f"pairs: sample {j + 1}/{args.k}")
        for p, (prompt, result) in enumerate(zip(prompts, results)):
            problem = text_problem(result, language=language, category=prompt["category"],
                                   prompt=prompt["prompt"][-1]["content"])
            if problem:
                response_problems[problem] += 1
            else:
                responses[p][j] = result.text.strip()
    rate = {"single": _rate_single, "pairwise": _rate_pairwise, "reward": _rate_reward}[args.rating]
    ratings, rater, rating_failures = rate(args, requester, generator, prompts, responses, output_dir)
    for p, prompt in enumerate(prompts):
        scored = [(j, ratings[p][j]) for j in range(args.k)
                  if responses[p][j] is not None and ratings[p][j] is not None]
        reason, pair = _binarise(scored, responses[p], args, rng)
        if reason:
            tally.reject(reason)
            out.rejected.append(rejection("pairs", reason, {**prompt, "responses": responses[p],
                                                            "ratings": ratings[p]}))
            continue
        chosen, rejected_j = pair
        margin = round(ratings[p][chosen] - ratings[p][rejected_j], 4)
        record = {"prompt": prompt["prompt"], "chosen": [{"role": "assistant", "content": responses[p][chosen]}],
                  "rejected": [{"role": "assistant", "content": responses[p][rejected_j]}]}
        out.pairs.append({"id": f"synth-pair-{record_id(record)}", **record, "margin": margin, "rating": None,
                          "scale": "score", "category": prompt["category"], "source": "synth:pairs",
                          "annotator": rater,
                          "metadata": {"rating": args.rating, "pairing": args.pairing, "ratings": ratings[p],
                                       "samples": [{"model": m, "temperature": t} for m, t in samples],
                                       "chosen_sample": chosen, "rejected_sample": rejected_j,
                                       "prompt_source": prompt["source"], "turns": len(prompt["prompt"])}})
        tally.kept += 1
    margins = [r["margin"] for r in out.pairs]
    out.report = {**tally.to_dict(), "prompts": len(prompts), "responses": len(prompts) * args.k,
                  "responses_rejected": dict(response_problems), "rating_failures": dict(rating_failures),
                  "multi_turn_prompts": sum(len(p["prompt"]) > 1 for p in prompts), "rater": rater,
                  "mean_margin": round(sum(margins) / len(margins), 4) if margins else None}
    return out


def _binarise(scored: list[tuple[int, float]], texts: list, args: PairsArgs, rng: random.Random):
    """(reason, None) to drop the prompt, or (None, (chosen index, rejected index))."""
    if len(scored) < 2:
        return "fewer than 2 rated responses", None
    best = max(scored, key=lambda s: (s[1], -s[0]))
    lower = [s for s in scored if s[1] < best[1]]
    if not lower:
        return "tie", None
    other = min(lower, key=lambda s: (s[1], s[0])) if args.pairing == "best-worst" else rng.choice(lower)
    if best[1] - other[1] <= args.min_margin:
        return "tie", None
    if texts[best[0]] == texts[other[0]]:
        return "identical responses", None
    return None, (best[0], other[0])


def _qid(prompt: dict, *texts: str) -> str:
    """A question id bound to the exact texts judged, so a resumed judgment file never answers another pair."""
    return f"{prompt['id']}-{hashlib.sha256(''.join(texts).encode()).hexdigest()[:10]}"


def _question(qid: str, prompt: dict) -> dict:
    return {"question_id": qid, "category": prompt["category"], "turns": [transcript(prompt["prompt"])]}


def _rate_single(args, requester, generator, prompts, responses, output_dir):
    from chatrecipe.judge.single import judge_single

    judge_ref = args.judge or generator
    questions, answers, where = [], [], {}
    for p, prompt in enumerate(prompts):
        for j, text in enumerate(responses[p]):
            if text is not None:
                qid = _qid(prompt, str(j), text)
                where[qid] = (p, j)
                questions.append(_question(qid, prompt))
                answers.append({"question_id": qid, "model": "response", "turns": [text]})
    ratings = [[None] * args.k for _ in prompts]
    failures = Counter()
    if answers:
        for record in judge_single(requester.backend(judge_ref), questions, answers, output_dir / "judgments.jsonl",
                                   params=GenerationParams(max_new_tokens=args.judge_max_new_tokens),
                                   prefill=args.judge_prefill):
            p, j = where[record["question_id"]]
            if record["error"]:
                failures[record["error"].split(":")[0]] += 1
            else:
                ratings[p][j] = record["score"]
    return ratings, judge_ref, failures


def _rate_pairwise(args, requester, generator, prompts, responses, output_dir):
    from chatrecipe.judge.pairwise import combine_orders, judge_pairwise

    judge_ref = args.judge or generator
    questions, first, second, where = [], [], [], {}
    for p, prompt in enumerate(prompts):
        valid = [j for j, text in enumerate(responses[p]) if text is not None]
        for i, j in itertools.combinations(valid, 2):
            qid = _qid(prompt, str(i), responses[p][i], str(j), responses[p][j])
            where[qid] = (p, i, j)
            questions.append(_question(qid, prompt))
            first.append({"question_id": qid, "model": "first", "turns": [responses[p][i]]})
            second.append({"question_id": qid, "model": "second", "turns": [responses[p][j]]})
    wins = [[0.0 if text is not None else None for text in row] for row in responses]
    failures = Counter()
    if questions:
        judgments = judge_pairwise(requester.backend(judge_ref), questions, first, second,
                                   output_dir / "judgments.jsonl", both_orders=True,
                                   params=GenerationParams(max_new_tokens=args.judge_max_new_tokens))
        for verdict in combine_orders(judgments)[0]:
            p, i, j = where[verdict["question_id"]]
            if verdict["error"]:
                failures["unparseable or failed verdict"] += 1
                wins[p] = [None] * args.k  # a prompt with a missing comparison has no fair ranking
            elif wins[p][i] is not None:
                points = {"model_a": (1.0, 0.0), "model_b": (0.0, 1.0), "tie": (0.5, 0.5)}[verdict["winner"]]
                wins[p][i] += points[0]
                wins[p][j] += points[1]
    return wins, judge_ref, failures


def _rate_reward(args, requester, generator, prompts, responses, output_dir):
    from chatrecipe.synth.reward_rating import score_responses

    items = [(p, j) for p in range(len(prompts)) for j in range(args.k) if responses[p][j] is not None]
    scores = score_responses(args.reward_model, [prompts[p]["prompt"] for p, _ in items],
                             [responses[p][j] for p, j in items])
    ratings = [[None] * args.k for _ in prompts]
    failures = Counter()
    for (p, j), score in zip(items, scores):
        if score is None:
            failures["longer than the reward model's context"] += 1
        else:
            ratings[p][j] = round(score, 4)
    return ratings, f"reward:{args.reward_model}", failures
