"""Score preference test sets with a reward model: the one implementation the RM benchmark and the training
callback share (`chatrecipe eval rm`, `rm.test_sets`).

Texts are tokenized exactly as TRL's RewardTrainer tokenizes them (the chat template applied to prompt + response,
`tokenize=True`), right-padded with an attention mask as its collator pads them, and scored in length-sorted
batches: sorting puts sequences of similar length together, so far fewer pad tokens are computed, and a score does
not depend on the batch size or on its neighbours (tests/test_rm_bench.py checks batch 1 against batch 8).

The reference scorers live here too, because a reward-model accuracy means little until it is read against
what the response length alone achieves.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Callable

from chatrecipe.data.records import RecordFileError, load_records
from chatrecipe.data.resources import resource_path


class RewardScoringError(ValueError):
    """A model or test set that cannot be scored; the message says what to do."""


@dataclass
class PairScore:
    """One pair's scores; `error` (why it was not scored) leaves both scores None."""

    chosen: float | None = None
    rejected: float | None = None
    error: str | None = None

    @property
    def outcome(self) -> str:
        """`correct`, `wrong`, `tie` (equal scores: counted apart, never split) or `failed`."""
        if self.error is not None:
            return "failed"
        if self.chosen == self.rejected:
            return "tie"
        return "correct" if self.chosen > self.rejected else "wrong"


def tally(scores: list[PairScore]) -> dict:
    """Accuracy over the scored pairs, with ties and failures counted beside it (a tie is not a half win)."""
    counts = {k: 0 for k in ("correct", "wrong", "tie", "failed")}
    for score in scores:
        counts[score.outcome] += 1
    scored = len(scores) - counts["failed"]
    return {"accuracy": counts["correct"] / scored if scored else None, "correct": counts["correct"],
            "wrong": counts["wrong"], "ties": counts["tie"], "failed": counts["failed"], "scored": scored,
            "n": len(scores)}


@dataclass
class TestSet:
    """A preference test set: its records, the rows rejected on reading (with reasons) and a content hash."""

    name: str
    path: str
    rows: list[dict]
    rejected: list[dict]
    sha256: str


def load_test_set(ref: str) -> TestSet:
    """A preference file (any format load_records reads) or a shipped set such as `rm:helpful.jsonl`.

    Rows that are not valid preference records (identical chosen and rejected, empty responses, ...) are
    returned in `rejected` with file, line and reason; they are never scored and never dropped silently.
    """
    path = resource_path(ref)
    try:
        result = load_records(path, "preference")
    except RecordFileError as exc:
        raise RewardScoringError(str(exc)) from exc
    if not result.records:
        reasons = sorted({r["reason"] for r in result.rejected})[:3]
        raise RewardScoringError(f"{ref}: no valid preference records" +
                                 (f" (rejected: {'; '.join(reasons)})" if reasons else "; is it empty?"))
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if file.is_file():
            digest.update(file.read_bytes())
    name = path.name.split(".")[0] if not path.is_dir() else path.name
    return TestSet(name, str(path), result.records, result.rejected, digest.hexdigest()[:16])


def response_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages)


def length_scores(rows: list[dict]) -> list[PairScore]:
    """The longer response wins (characters): the baseline every reward model must beat."""
    return [PairScore(float(len(response_text(r["chosen"]))), float(len(response_text(r["rejected"])))) for r in rows]


def random_scores(rows: list[dict], seed: int = 0) -> list[PairScore]:
    """Coin flips seeded by each pair's id, so a set scores the same however it is ordered or split."""
    scores = []
    for row in rows:
        rng = random.Random(f"{seed}:{row['id']}")
        scores.append(PairScore(rng.random(), rng.random()))
    return scores


def check_reward_head(model) -> None:
    """A reward model has exactly one output; a classifier with several is refused, not read at output 0."""
    outputs = getattr(model.config, "num_labels", None)
    if outputs != 1:
        raise RewardScoringError(
            f"this sequence-classification model's head has {outputs} outputs; a reward model has exactly one "
            "(num_labels=1, as `chatrecipe train rm` saves it). A multi-class classifier is not a reward model: "
            "train one with `chatrecipe train rm`, or pick the model you meant")


def context_limit(model, max_length: int | None = None) -> int | None:
    """The longest sequence the model takes: its position embeddings, lowered by an explicit `max_length`."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if max_length:
        limit = min(limit, max_length) if limit else max_length
    return limit


def conversation_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of a conversation as TRL's RewardTrainer builds them (chat template, tokenize=True)."""
    return list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def length_sorted_batches(lengths: list[int], batch_size: int, sort: bool = True) -> list[list[int]]:
    """Index batches, longest first when sorted (a too-large batch fails on the first one, not the last)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if sort else list(range(len(lengths)))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def score_sequences(model, sequences: list[list[int]], pad_token_id: int, *, batch_size: int = 8, sort: bool = True,
                    progress: Callable[[int], None] | None = None) -> list[float]:
    """The head's single output for each token sequence (right padding + attention mask, no gradients)."""
    import torch

    scores: list[float] = [0.0] * len(sequences)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in length_sorted_batches([len(s) for s in sequences], batch_size, sort):
                width = max(len(sequences[i]) for i in batch)
                ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    ids[row, :len(sequences[i])] = torch.tensor(sequences[i])
                    mask[row, :len(sequences[i])] = 1
                logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
                for row, value in zip(batch, logits[:, 0].float().tolist()):
                    scores[row] = value
                if progress:
                    progress(len(batch))
    finally:
        model.train(was_training)
    return scores


def prepare_reward_model(model, tokenizer) -> None:
    """Refuse a multi-output head; give the head the pad id it needs to find each sequence's last token."""
    check_reward_head(model)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id


def score_pairs(model, tokenizer, rows: list[dict], *, batch_size: int = 8, max_length: int | None = None,
                sort: bool = True, progress: Callable[[int], None] | None = None) -> list[PairScore]:
    """Reward of chosen and rejected for every row; a pair longer than the context is reported, not truncated."""
    prepare_reward_model(model, tokenizer)
    limit = context_limit(model, max_length)
    pairs = [tuple(conversation_ids(tokenizer, r["prompt"] + r[side]) for side in ("chosen", "rejected")) for r in rows]
    results: list[PairScore] = []
    todo: list[int] = []
    for index, (chosen, rejected) in enumerate(pairs):
        longest = max(len(chosen), len(rejected))
        if limit and longest > limit:
            results.append(PairScore(error=f"{longest} tokens > the model's context of {limit}: not scored, never "
                                           "truncated (shorten the pair or use a model with a longer context)"))
        else:
            results.append(PairScore())
            todo.append(index)
    sequences = [pairs[i][0] for i in todo] + [pairs[i][1] for i in todo]
    scores = score_sequences(model, sequences, model.config.pad_token_id, batch_size=batch_size, sort=sort,
                             progress=progress)
    for k, index in enumerate(todo):
        results[index] = PairScore(scores[k], scores[len(todo) + k])
    return results


def rejected_entries(test_set: TestSet, scores: list[PairScore], scorer: str) -> list[dict]:
    """Pairs a scorer could not score, as rejected-record entries (file, record, reason, scorer)."""
    return [{"file": test_set.path, "line": None, "field": None, "scorer": scorer, "reason": s.error, "record": row}
            for row, s in zip(test_set.rows, scores) if s.error is not None]

