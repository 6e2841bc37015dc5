"""Per-token log-probabilities from plain logits: the LM head TRL's trainers call, made cheap on a CPU.

TRL's SFT and DPO trainers add a fused LM head to the model (`trl.trainer.utils.add_fused_lm_head`) and call
`model(..., labels=labels, fused_lm_head=True)`; their loss is built from the `log_probs` it returns. The fused
head projects the hidden states through the vocabulary in tiles so that the (tokens x vocabulary) logits never
exist at once, which saves gigabytes on a GPU. On a CPU it is the largest single cost of a training step: without
Triton it scores every position, prompt included; its backward recomputes every tile and does the gradient
matmuls in fp32; and it folds entropy and top-1 into the pass for the logs. On the embedded model it took
about 40% of an SFT step here (PERFORMANCE-NOTES; `benchmarks/bench_lm_head.py` measures it side by side).

`use_logits_head(model)` answers the same `fused_lm_head=True` call the plain way: project only the positions that
have a label, take the log-softmax there, and read the extras TRL logs (entropy, top-1, mean logit, log sum p^2)
off the same logits without a gradient. TRL's loss code does not change: it still reads `outputs.log_probs` and
forms the loss itself. `fused_lm_head=False` calls are passed on untouched, so generation is unchanged.

A right-padded batch (DPO's pairs; about a fifth of the starter pairs' tokens are padding at batch 2) is first
packed into one padding-free row (`varlen_attention.unpad_right_padded`), so the backbone runs on real tokens
only, the way TRL's `padding_free` would if its DPO trainer had not switched it off.
"""

from __future__ import annotations

import functools
import types

from chatrecipe.train.fast.varlen_attention import unpad_right_padded

LM_HEAD_CHOICES = ("auto", "logits", "fused")

# Config fields that make a model's logits differ from `lm_head(hidden)`; TRL's fused head handles them, this one
# does not, so such models keep TRL's head
_SCALED_LOGITS_FIELDS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                         "logits_scaling")


def wants_logits_head(choice: str, device_type: str) -> bool:
    """Whether a trainer on `device_type` should use plain logits: `auto` means on a CPU, TRL's fused head elsewhere."""
    if choice not in LM_HEAD_CHOICES:
        from chatrecipe.recipe import RecipeError

        raise RecipeError(f"lm_head {choice!r}: use one of {', '.join(LM_HEAD_CHOICES)}")
    return choice == "logits" or (choice == "auto" and device_type == "cpu")


def supports_logits_head(model) -> bool:
    """A text-only model whose logits are exactly `lm_head(hidden)` and that has no MoE router loss."""
    config = model.config
    return (config.get_text_config() is config
            and all(getattr(config, name, None) is None for name in _SCALED_LOGITS_FIELDS)
            and not getattr(config, "output_router_logits", False))


# What TRL's trainers read off the fused head besides `log_probs`: SFT logs entropy and top-1 accuracy; DPO also
# logs the mean logit and, with WPO weighting, uses log sum p^2
SFT_EXTRAS = ("entropy", "is_top1")
DPO_EXTRAS = ("entropy", "is_top1", "mean_logits")
ALL_EXTRAS = (*DPO_EXTRAS, "log_sum_sq_probs")


def use_logits_head(model, extras: tuple[str, ...] = ALL_EXTRAS) -> bool:
    """Answer `fused_lm_head=True` calls on `model` (TRL-patched, unwrapped from PEFT) from plain logits.

    `extras` are the fields besides `log_probs` to compute (the others are None, as with TRL's head). Returns
    False, leaving TRL's head in place, for models `supports_logits_head` rejects.
    """
    if not supports_logits_head(model):
        return False
    trl_forward = model.forward

    @functools.wraps(type(model).forward)
    def forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kwargs):
        if not fused_lm_head:
            return trl_forward(*args, labels=labels, shift_labels=shift_labels, num_items_in_batch=num_items_in_batch,
                               **kwargs)
        kwargs["use_cache"] = False
        unpadded = unpad_right_padded(kwargs) if not args else None
        if unpadded is None:
            hidden = self.base_model(*args, **kwargs).last_hidden_state
        else:  # DPO's right-padded pairs: the backbone runs on the real tokens only
            packed, repad = unpadded
            hidden = repad(self.base_model(**packed).last_hidden_state)
        if shift_labels is None:
            hidden, labels = hidden[:, :-1], labels[:, 1:]
        else:
            labels = shift_labels
        return token_log_probs(self.get_output_embeddings(), hidden, labels.to(hidden.device), num_items_in_batch,
                               extras)

    model.forward = types.MethodType(forward, model)
    return True


def token_log_probs(lm_head, hidden, labels, num_items_in_batch=None, extras: tuple[str, ...] = ALL_EXTRAS):
    """TRL's `FusedCausalLMOutput` for next-token `labels` (-100 = not scored) from the logits of scored positions."""
    import torch
    from trl.trainer.utils import FusedCausalLMOutput

    mask = labels != -100
    targets = labels[mask]
    logits = lm_head(hidden[mask]).float()
    log_p = logits.log_softmax(-1)
    fields = {"log_probs": log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1)}
    with torch.no_grad():
        log_p = log_p.detach()
        if "entropy" in extras:
            fields["entropy"] = -(log_p.exp() * log_p).sum(-1)
        if "is_top1" in extras:
            fields["is_top1"] = logits.argmax(-1) == targets  # argmax takes the first maximum, as TRL's head does
        if "mean_logits" in extras:
            fields["mean_logits"] = logits.mean(-1)
        if "log_sum_sq_probs" in extras:
            fields["log_sum_sq_probs"] = torch.logsumexp(2 * log_p, -1)

    def spread(values):  # back to (batch, positions), zero where the label is -100; keeps the graph of log_probs
        return values.new_zeros(mask.shape).masked_scatter(mask, values)

    fields = {name: spread(values) for name, values in fields.items()}
    denominator = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
    return FusedCausalLMOutput(loss=-fields["log_probs"].sum() / denominator, label_mask=mask, **fields)


def install_lm_head(trainer, choice: str, extras: tuple[str, ...] = ALL_EXTRAS) -> str:
    """Apply the recipe's `lm_head` choice to a TRL trainer's policy (and reference) model; returns the head used.

    A separate reference model only needs log-probabilities (a LoRA policy's reference is the policy itself).
    """
    from accelerate.utils import is_peft_model

    if not wants_logits_head(choice, trainer.accelerator.device.type):
        return "fused"
    policy, reference = trainer.model, getattr(trainer, "ref_model", None)
    installed = [use_logits_head(policy.get_base_model() if is_peft_model(policy) else policy, extras)]
    if reference is not None:
        installed.append(use_logits_head(reference, extras=()))
    return "logits" if all(installed) else "fused"
