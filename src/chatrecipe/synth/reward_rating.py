"""Rate responses with a reward model: a one-output sequence classifier scores prompt + response, in batches.

The reward model is loaded as the RL stage loads it (frozen, one output, pad token set), and each text is the
chat template applied to the prompt and the response, exactly the form the reward model was trained on.
Texts are sorted by length so a batch pads little.
"""

from __future__ import annotations


def score_responses(reward_model: str, prompts: list[list[dict]], responses: list[str], *, batch_size: int = 8,
                    max_length: int = 2048) -> list[float]:
    """One reward per (prompt, response), in the order given."""
    import torch

    from chatrecipe.train.rl import load_reward_model

    if not prompts:
        return []
    model, tokenizer = load_reward_model(reward_model)
    texts = [tokenizer.apply_chat_template(list(prompt) + [{"role": "assistant", "content": response}],
                                           tokenize=False) for prompt, response in zip(prompts, responses)]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    scores: list[float] = [0.0] * len(texts)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            encoded = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True, truncation=True,
                                max_length=max_length, add_special_tokens=False).to(model.device)
            for i, value in zip(batch, model(**encoded).logits[:, 0].float().tolist()):
                scores[i] = value
    return scores
