"""The LM head alone: TRL's fused chunked head vs chatrecipe's plain-logits head, side by side in one run.

Run as: `python benchmarks/bench_lm_head.py [--tokens 1200] [--prompt-share 0.4]` (a few seconds).

Both compute per-token log-probabilities (and SFT's logged entropy and top-1) of the embedded model's head shape
(hidden 576, vocabulary 49,152) under bf16 autocast, forward and backward, for one batch in which a share of the
positions are prompt tokens that carry no label. Printed: seconds per call for each, the ratio, and the largest
differences in log-probabilities and gradients (they should be within bf16 rounding).
"""

from __future__ import annotations

import argparse
import time

import torch
from trl.trainer.utils import add_fused_lm_head

from chatrecipe.train.fast.logits_head import SFT_EXTRAS, use_logits_head


class HeadOnly(torch.nn.Module):
    """Just an LM head behind the interface TRL patches: `base_model` returns the hidden states it is given."""

    def __init__(self, hidden: int, vocab: int):
        super().__init__()
        from transformers import LlamaConfig

        self.config = LlamaConfig(hidden_size=hidden, vocab_size=vocab)
        self.lm_head = torch.nn.Linear(hidden, vocab, bias=False)
        torch.nn.init.normal_(self.lm_head.weight, std=0.02)

    def base_model(self, inputs_embeds, **_):
        from transformers.modeling_outputs import BaseModelOutput

        return BaseModelOutput(last_hidden_state=inputs_embeds)

    def get_output_embeddings(self):
        return self.lm_head

    def forward(self, inputs_embeds, **_):
        return self.lm_head(inputs_embeds)


def timed(model, hidden, labels, repeats: int) -> tuple[float, torch.Tensor, torch.Tensor]:
    best = float("inf")
    for _ in range(repeats):
        model.lm_head.weight.grad = None
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(inputs_embeds=hidden, labels=labels, fused_lm_head=True)
        out.loss.backward()
        best = min(best, time.perf_counter() - started)
    return best, out.log_probs.detach(), model.lm_head.weight.grad.clone()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=1200, help="positions in the batch (one packed row)")
    parser.add_argument("--prompt-share", type=float, default=0.4, help="share of positions without a label")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    hidden_size, vocab = 576, 49152
    hidden = torch.randn(1, args.tokens, hidden_size)
    labels = torch.randint(0, vocab, (1, args.tokens))
    labels[0, torch.rand(args.tokens) < args.prompt_share] = -100
    fused, plain = HeadOnly(hidden_size, vocab), HeadOnly(hidden_size, vocab)
    plain.load_state_dict(fused.state_dict())
    add_fused_lm_head(fused, outputs=("log_probs", *SFT_EXTRAS))  # what SFTTrainer installs
    add_fused_lm_head(plain, outputs=("log_probs", *SFT_EXTRAS))
    use_logits_head(plain, SFT_EXTRAS)
    t_fused, lp_fused, g_fused = timed(fused, hidden, labels, args.repeats)
    t_plain, lp_plain, g_plain = timed(plain, hidden, labels, args.repeats)
    scored = int((labels[0, 1:] != -100).sum())
    print(f"LM head, {args.tokens} positions ({scored} scored), hidden {hidden_size}, vocabulary {vocab}, "
          f"bf16 autocast, forward + backward")
    print(f"  TRL fused head        {t_fused:6.3f} s")
    print(f"  chatrecipe logits     {t_plain:6.3f} s")
    print(f"  speed-up {t_fused / t_plain:.2f}x; max |log-prob difference| {(lp_fused - lp_plain).abs().max():.2e}; "
          f"relative gradient difference {(g_fused - g_plain).norm() / g_fused.norm():.2e}")


if __name__ == "__main__":
    main()
