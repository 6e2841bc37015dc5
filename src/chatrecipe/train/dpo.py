"""Direct preference optimisation with TRL's DPOTrainer, starting from the SFT model (adapter or full).

Run as: `chatrecipe train dpo --config recipes/demo.yaml --model runs/demo/sft/final`.

With LoRA, the SFT adapter is merged into its base first and a fresh adapter is trained on top; TRL then uses
the model with that adapter switched off as the reference policy, so no second copy of the model is held.
The saved adapter records the SFT folder as its base, so loading it rebuilds base + SFT + DPO.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatrecipe.train.args import start_stage
from chatrecipe.train.fast.checkpointing import fit_activation_checkpointing, longest_batch_tokens
from chatrecipe.train.fast.logits_head import DPO_EXTRAS, install_lm_head
from chatrecipe.train.launch import parse_argv
from chatrecipe.train.outputs import RecordCheckpoints, finish, save_final
from chatrecipe.train.peft_setup import gpu_placement, load_for_training, peft_config
from chatrecipe.train.preference_data import evaluate_on_held_out, preference_rows


def run(section: dict, *, model: str, train_files: list, output_dir: Path, seed: int = 42,
        eval_files: list | None = None, resume: bool | str = True, ref_model: str | None = None) -> dict:
    """Train, save `output_dir/final`, and return the metrics (loss, reward accuracy and margins)."""
    from datasets import Dataset
    from trl import DPOTrainer

    from chatrecipe.models import load_tokenizer

    output_dir = Path(output_dir)
    config, model_config, args, checkpoint = start_stage("dpo", section, output_dir, seed, resume)
    tokenizer = load_tokenizer(model)
    rows, rows_eval, info = preference_rows(train_files, tokenizer, output_dir, config.max_length,
                                            with_margin=False, eval_fraction=args.eval_fraction, seed=seed)
    pair_lengths = info.pop("lengths")
    evaluate_on_held_out(config, rows_eval)
    policy = load_for_training(model, args.method, model_config=model_config, **gpu_placement(config))
    reference = load_for_training(ref_model, "full", **gpu_placement(config)) if ref_model else None
    if reference is None and args.method == "full":  # a frozen copy of the start point
        reference = load_for_training(model, "full", model_config=model_config, **gpu_placement(config))
    memory = fit_activation_checkpointing(config, section, policy, 2 * longest_batch_tokens(
        pair_lengths, config.per_device_train_batch_size, padded=True),  # chosen and rejected side by side
        frozen=reference, frozen_base=args.method != "full")
    trainer = DPOTrainer(
        model=policy, ref_model=reference, args=config, train_dataset=Dataset.from_list(rows),
        eval_dataset=Dataset.from_list(rows_eval) if rows_eval else None, processing_class=tokenizer,
        peft_config=peft_config(model_config, args.method),
    )
    lm_head = install_lm_head(trainer, args.lm_head,
                              DPO_EXTRAS + (("log_sum_sq_probs",) if config.use_weighting else ()))
    trainer.add_callback(RecordCheckpoints(output_dir, stage="dpo", base_model=model, method=args.method))
    started = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    last = {k: v for h in trainer.state.log_history for k, v in h.items() if k.startswith(("rewards/", "eval_rewards/"))}
    seconds = max(result.metrics.get("train_runtime", 1e-9), 1e-9)
    extra = {**info, "method": args.method, "beta": config.beta, "resumed_from": checkpoint, "lm_head": lm_head,
             "pairs_per_second": round(info["pairs"] * config.num_train_epochs / seconds, 3)
             if config.max_steps <= 0 and not checkpoint else None,
             **{k.replace("/", "_"): v for k, v in last.items()}, **({"memory_estimate": memory} if memory else {})}
    save_final(trainer, tokenizer, output_dir, base_model=model, method=args.method,
               generation_template=tokenizer.chat_template, stage="dpo")
    return finish(trainer, output_dir, result, started, extra,
                  {"loss": ["loss", "eval_loss"], "learning_rate": ["learning_rate"],
                   "accuracy": ["rewards/accuracies", "eval_rewards/accuracies"],
                   "margins": ["rewards/margins", "eval_rewards/margins"]})


def main(argv: list[str] | None = None) -> None:
    """`python -m chatrecipe.train.dpo --config RECIPE.yaml --model SFT_FOLDER`."""
    print(run(**parse_argv("dpo", argv).run_kwargs()))


if __name__ == "__main__":
    main()
