"""Rate responses with a reward model: a one-output sequence classifier scores prompt + response, in batches.

The scoring itself is the project's one implementation (`chatrecipe.train.reward_scoring`): texts tokenized as
TRL's RewardTrainer tokenizes them, right-padded, scored in length-sorted batches, so a response's reward does
not depend on its batch. A prompt + response longer than the model's context is not scored (None, counted as a
rating failure), never truncated into a misleading reward.
"""

from __future__ import annotations


def score_responses(reward_model: str, prompts: list[list[dict]], responses: list[str], *,
                    batch_size: int = 8) -> list[float | None]:
    """One reward per (prompt, response), in the order given; None where the text exceeds the context."""
    from transformers import AutoModelForSequenceClassification

    from chatrecipe.models import load_model, load_tokenizer
    from chatrecipe.train.reward_scoring import (context_limit, conversation_ids, prepare_reward_model,
                                                 score_sequences)

    if not prompts:
        return []
    model = load_model(reward_model, model_class=AutoModelForSequenceClassification, dtype="float32")
    tokenizer = load_tokenizer(reward_model)
    prepare_reward_model(model, tokenizer)
    limit = context_limit(model)
    sequences = [conversation_ids(tokenizer, list(prompt) + [{"role": "assistant", "content": response}])
                 for prompt, response in zip(prompts, responses)]
    fits = [i for i, ids in enumerate(sequences) if not limit or len(ids) <= limit]
    scores = score_sequences(model, [sequences[i] for i in fits], model.config.pad_token_id, batch_size=batch_size)
    found: list[float | None] = [None] * len(sequences)
    for i, score in zip(fits, scores):
        found[i] = score
    return found
