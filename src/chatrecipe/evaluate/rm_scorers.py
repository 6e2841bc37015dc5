"""What `chatrecipe eval rm` can score preference pairs with: reward models, DPO policies, LLM judges, baselines.

A scorer spec (the `--scorer` option):

- `length`, `random`: the reference scorers (the longer response wins; a seeded coin), reported beside every model
  so an accuracy is read against what length alone achieves.
- `rm:MODEL`, or a bare MODEL whose config is a sequence classifier: a reward model's single output.
- `dpo:POLICY` with `--reference REF`: a DPO policy's implicit reward, log pi(y|x) - log pi_ref(y|x) over the
  response tokens (the DPO loss's own quantity, without beta, which does not change a ranking). Two leaderboard
  rows come from one pass: the sum, and the mean per response token (length-normalised), because the sum
  rewards long answers the way a judge does.
- `judge:MODEL`: an LLM judge (any backend reference) comparing the two responses in both orders through
  chatrecipe.judge; agreeing verdicts stand, conflicting ones are ties, unparseable ones are failures.

Each scorer yields one or more variants (leaderboard rows) and, per test set, a PairScore for every pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from chatrecipe.evaluate.model_revision import model_revision, split_revision
from chatrecipe.train.reward_scoring import (PairScore, RewardScoringError, TestSet, conversation_ids, context_limit,
                                             length_sorted_batches, length_scores, prepare_reward_model, random_scores,
                                             response_text, score_pairs)

Progress = Callable[[int], None]
BASELINES = ("length", "random")


@dataclass
class Variant:
    """One leaderboard row's identity."""

    model: str
    kind: str  # reward-model | dpo | dpo-normalised | judge | length | random
    revision: str | None = None
    dtype: str | None = None
    settings: dict = field(default_factory=dict)


class Scorer:
    """Base: `variants` are the rows this scorer fills; `score` returns {variant kind: [PairScore per row]}."""

    variants: list[Variant]

    def work(self, test_set: TestSet) -> int:
        """Units of progress `score` reports for a set (sequences, requests or pairs)."""
        return len(test_set.rows)

    def score(self, test_set: TestSet, *, batch_size: int, progress: Progress | None = None) -> dict[str, list]:
        raise NotImplementedError

    def close(self) -> None:
        """Free the model memory before the next scorer loads."""


class LengthScorer(Scorer):
    def __init__(self):
        self.variants = [Variant("length", "length", settings={"unit": "characters"})]

    def score(self, test_set, *, batch_size, progress=None):
        return {"length": length_scores(test_set.rows)}


class RandomScorer(Scorer):
    def __init__(self, seed: int = 0):
        self.seed = seed
        self.variants = [Variant("random", "random", settings={"seed": seed})]

    def score(self, test_set, *, batch_size, progress=None):
        return {"random": random_scores(test_set.rows, self.seed)}


def _local_config(ref: str) -> dict:
    """The model's config.json (or, for an adapter, what chatrecipe recorded) without loading weights."""
    from chatrecipe.models import model_path, resolve

    if resolve(ref).kind not in ("folder", "embedded"):
        return {}
    folder = Path(model_path(ref))
    meta = folder / "chatrecipe_model.json"
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    if meta.is_file():
        config["chatrecipe"] = json.loads(meta.read_text())
    adapter = folder / "adapter_config.json"
    if adapter.is_file():
        config["adapter_task_type"] = json.loads(adapter.read_text()).get("task_type")
    return config


def is_reward_model(ref: str) -> bool | None:
    """True for a sequence classifier, False for anything else local, None when it cannot be told offline."""
    config = _local_config(ref)
    if not config:
        return None
    if config.get("chatrecipe", {}).get("stage") == "rm" or config.get("adapter_task_type") == "SEQ_CLS":
        return True
    return any(a.endswith("ForSequenceClassification") for a in config.get("architectures") or [])


class RewardModelScorer(Scorer):
    """A sequence-classification reward model, scored as TRL trained it (see chatrecipe.train.reward_scoring)."""

    def __init__(self, ref: str, *, dtype: str = "float32", max_length: int | None = None):
        from transformers import AutoModelForSequenceClassification

        from chatrecipe.models import load_model, load_tokenizer

        name, revision = split_revision(ref)
        if is_reward_model(name) is False:
            raise RewardScoringError(
                f"{name} is not a reward model (its config lists {_local_config(name).get('architectures')}, no "
                "sequence-classification head): score a DPO policy with `--scorer dpo:MODEL --reference REF`, an "
                "LLM judge with `--scorer judge:MODEL`, or train a reward model with `chatrecipe train rm`")
        kwargs = {"revision": revision} if revision else {}
        self.model = load_model(name, dtype=dtype, model_class=AutoModelForSequenceClassification, **kwargs)
        self.tokenizer = load_tokenizer(name)
        prepare_reward_model(self.model, self.tokenizer)  # a multi-output head is refused before any scoring
        self.max_length = max_length
        self.variants = [Variant(name, "reward-model", model_revision(ref), dtype,
                                 {"context": context_limit(self.model, max_length)})]

    def work(self, test_set):
        return 2 * len(test_set.rows)

    def score(self, test_set, *, batch_size, progress=None):
        return {"reward-model": score_pairs(self.model, self.tokenizer, test_set.rows, batch_size=batch_size,
                                            max_length=self.max_length, progress=progress)}

    def close(self):
        del self.model


def recorded_reference(policy: str) -> str | None:
    """The model a chatrecipe DPO run started from (its reference unless a separate one was given)."""
    meta = _local_config(policy).get("chatrecipe", {})
    return meta.get("started_from") if meta.get("stage") == "dpo" else None


class DpoScorer(Scorer):
    """A DPO policy's implicit reward against its reference model: summed and per-token variants."""

    def __init__(self, policy: str, reference: str | None, *, dtype: str = "float32", max_length: int | None = None):
        from chatrecipe.models import load_model, load_tokenizer

        if not reference:
            hint = recorded_reference(policy)
            raise RewardScoringError(
                f"dpo:{policy} needs the reference model its implicit reward is measured against: pass "
                "--reference REF (the model DPO started from, usually the SFT model)"
                + (f"; {policy}/chatrecipe_model.json records that it started from {hint}" if hint else ""))
        self.policy = load_model(policy, dtype=dtype)
        self.reference = load_model(reference, dtype=dtype)
        self.tokenizer = load_tokenizer(policy)
        if load_tokenizer(reference).get_vocab() != self.tokenizer.get_vocab():
            raise RewardScoringError(f"the policy {policy} and the reference {reference} use different tokenizers; "
                                     "the implicit reward compares log-probabilities of the same tokens")
        self.max_length = max_length
        settings = {"reference": reference, "reference_revision": model_revision(reference),
                    "context": context_limit(self.policy, max_length)}
        revision = model_revision(policy)
        self.variants = [Variant(policy, "dpo", revision, dtype, settings),
                         Variant(policy, "dpo-normalised", revision, dtype, {**settings, "per_token": True})]

    def work(self, test_set):
        return 4 * len(test_set.rows)

    def _pieces(self, row: dict) -> tuple[list[int], int, list[int], int]:
        """(prompt+chosen ids, chosen length, prompt+rejected ids, rejected length), split where TRL splits."""
        from trl.data_utils import common_prefix_length

        prompt = list(self.tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True,
                                                         return_dict=True)["input_ids"])
        chosen = conversation_ids(self.tokenizer, row["prompt"] + row["chosen"])
        rejected = conversation_ids(self.tokenizer, row["prompt"] + row["rejected"])
        start = min(common_prefix_length(prompt, chosen), common_prefix_length(prompt, rejected))
        return chosen, len(chosen) - start, rejected, len(rejected) - start

    def score(self, test_set, *, batch_size, progress=None):
        limit = context_limit(self.policy, self.max_length)
        pieces = [self._pieces(row) for row in test_set.rows]
        ok = [i for i, p in enumerate(pieces) if not limit or max(len(p[0]), len(p[2])) <= limit]
        sequences = [(pieces[i][0], pieces[i][1]) for i in ok] + [(pieces[i][2], pieces[i][3]) for i in ok]
        policy = response_logps(self.policy, sequences, self.tokenizer.pad_token_id, batch_size, progress)
        reference = response_logps(self.reference, sequences, self.tokenizer.pad_token_id, batch_size, progress)
        ratios = [p - r for p, r in zip(policy, reference)]
        summed: list[PairScore] = []
        normalised: list[PairScore] = []
        position = {index: k for k, index in enumerate(ok)}
        for index, piece in enumerate(pieces):
            if index not in position:
                error = (f"{max(len(piece[0]), len(piece[2]))} tokens > the model's context of {limit}: not "
                         "scored, never truncated")
                summed.append(PairScore(error=error))
                normalised.append(PairScore(error=error))
                continue
            k = position[index]
            chosen, rejected = ratios[k], ratios[len(ok) + k]
            summed.append(PairScore(chosen, rejected))
            normalised.append(PairScore(chosen / max(piece[1], 1), rejected / max(piece[3], 1)))
        return {"dpo": summed, "dpo-normalised": normalised}

    def close(self):
        del self.policy, self.reference


def response_logps(model, sequences: list[tuple[list[int], int]], pad_token_id: int, batch_size: int,
                   progress: Progress | None = None) -> list[float]:
    """Sum of log p(token) over the last `n` tokens of each sequence (the response), no gradients.

    Left padding puts every response at the end of its row, so only the last max(n)+1 positions' logits are
    computed (`logits_to_keep`) instead of a vocabulary-wide row for every prompt token; explicit position ids
    keep each sequence's positions what they would be unpadded.
    """
    import torch

    results = [0.0] * len(sequences)
    model.eval()
    with torch.no_grad():
        for batch in length_sorted_batches([len(s[0]) for s in sequences], batch_size):
            width = max(len(sequences[i][0]) for i in batch)
            keep = max(sequences[i][1] for i in batch) + 1
            ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                tokens = sequences[i][0]
                ids[row, width - len(tokens):] = torch.tensor(tokens)
                mask[row, width - len(tokens):] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            inputs = {"input_ids": ids.to(model.device), "attention_mask": mask.to(model.device),
                      "position_ids": positions.to(model.device)}
            try:
                logits = model(**inputs, logits_to_keep=keep).logits
            except TypeError:  # architectures without logits_to_keep: compute all, keep the tail
                logits = model(**inputs).logits[:, -keep:]
            logps = torch.log_softmax(logits.float(), dim=-1)
            for row, i in enumerate(batch):
                n = sequences[i][1]
                targets = ids[row, width - n:].to(logps.device)
                # logits at position t predict token t+1: the response's n tokens are predicted by the n positions
                # before them, which are the kept positions [keep-1-n, keep-1)
                predicted = logps[row, keep - 1 - n:keep - 1]
                results[i] = predicted.gather(-1, targets[:, None]).sum().item()
            if progress:
                progress(len(batch))
    return results


def prompt_as_question(prompt: list[dict]) -> str:
    """The text a judge sees as the question: the user message, or the whole exchange for multi-turn prompts."""
    if len(prompt) == 1:
        return prompt[0]["content"]
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in prompt)


class JudgeScorer(Scorer):
    """An LLM judge as a reward model: pairwise, both orders; agreeing verdicts count, conflicting ones tie."""

    def __init__(self, ref: str | None, output_dir: Path, *, batch_size: int = 8, prefill: bool = False,
                 backend=None):
        from chatrecipe.backends import load_backend

        self.backend = backend or load_backend(ref, cache_dir=Path(output_dir) / "cache", batch_size=batch_size)
        self.output_dir = Path(output_dir)
        self.prefill = prefill
        self.variants = [Variant(self.backend.model, "judge", model_revision(ref) if ref else None, None,
                                 {"both_orders": True, "prefill": prefill, "prompt": "pairwise"})]

    def work(self, test_set):
        return 2 * len(test_set.rows)

    def score(self, test_set, *, batch_size, progress=None):
        from chatrecipe.judge.pairwise import combine_orders, judge_pairwise

        ids = [f"{test_set.name}/{row['id']}" for row in test_set.rows]
        questions = [{"question_id": qid, "category": row.get("category"), "turns": [prompt_as_question(row["prompt"])]}
                     for qid, row in zip(ids, test_set.rows)]
        chosen = [{"question_id": qid, "model": "chosen", "turns": [response_text(row["chosen"])]}
                  for qid, row in zip(ids, test_set.rows)]
        rejected = [{"question_id": qid, "model": "rejected", "turns": [response_text(row["rejected"])]}
                    for qid, row in zip(ids, test_set.rows)]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.backend.model)
        output = self.output_dir / "rm_judgments" / f"{safe}-{test_set.name}-{test_set.sha256}.jsonl"
        judgments = judge_pairwise(self.backend, questions, chosen, rejected, output, both_orders=True,
                                   prefill=self.prefill)
        combined, _ = combine_orders(judgments)
        by_id = {c["question_id"]: c for c in combined}
        if progress:
            progress(2 * len(ids))
        votes = {"model_a": (1.0, 0.0), "model_b": (0.0, 1.0), "tie": (0.5, 0.5)}
        scores = []
        for qid in ids:
            verdict = by_id.get(qid)
            if verdict is None or verdict.get("error") or verdict.get("winner") not in votes:
                scores.append(PairScore(error=(verdict or {}).get("error") or "no verdict from the judge"))
            else:
                scores.append(PairScore(*votes[verdict["winner"]]))
        return {"judge": scores}

    def close(self):
        self.backend.close()


def build_scorer(spec: str, *, output_dir: Path, dtype: str = "float32", max_length: int | None = None,
                 reference: str | None = None, seed: int = 0, batch_size: int = 8, prefill: bool = False) -> Scorer:
    """A scorer from a `--scorer` spec (see the module docstring)."""
    if spec == "length":
        return LengthScorer()
    if spec == "random":
        return RandomScorer(seed)
    if spec.startswith("rm:"):
        return RewardModelScorer(spec[3:], dtype=dtype, max_length=max_length)
    if spec.startswith("dpo:"):
        return DpoScorer(spec[4:], reference, dtype=dtype, max_length=max_length)
    if spec.startswith("judge:"):
        return JudgeScorer(spec[6:], output_dir, batch_size=batch_size, prefill=prefill)
    kind = is_reward_model(split_revision(spec)[0])
    if kind is False:
        raise RewardScoringError(
            f"{spec} is a causal LM, not a reward model: say how to score with it, `--scorer dpo:{spec} "
            f"--reference REF` (implicit DPO reward) or `--scorer judge:{spec}` (LLM judge)")
    return RewardModelScorer(spec, dtype=dtype, max_length=max_length)
