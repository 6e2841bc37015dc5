"""Reward models with TRL's RewardTrainer: a one-output sequence-classification head on any causal LM.

Run as: `chatrecipe train rm --config recipes/rlhf-demo.yaml --model runs/rlhf-demo/sft/final`.

When every pair has a margin (the LLaMA-2 rating scale), TRL's margin term is used: the loss asks the chosen
reward to beat the rejected one by at least the margin. Accuracy is measured on a held-out split during
training, and the rewards' mean and spread on chosen and rejected are reported, because a reward model's
scores must be comparable across prompts to be useful for RL.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from chatrecipe.train.args import start_stage
from chatrecipe.train.fast.checkpointing import fit_activation_checkpointing, longest_batch_tokens
from chatrecipe.train.launch import parse_argv
from chatrecipe.train.outputs import RecordCheckpoints, finish, save_final
from chatrecipe.train.peft_setup import gpu_placement, load_for_training, peft_config
from chatrecipe.train.preference_data import evaluate_on_held_out, preference_rows
from chatrecipe.train.reward_scoring import score_pairs


def reward_summary(chosen: list[float], rejected: list[float]) -> dict:
    pairs = list(zip(chosen, rejected))
    return {"accuracy": sum(c > r for c, r in pairs) / len(pairs), "ties": sum(c == r for c, r in pairs),
            "chosen_mean": statistics.fmean(chosen), "chosen_std": statistics.pstdev(chosen),
            "rejected_mean": statistics.fmean(rejected), "rejected_std": statistics.pstdev(rejected),
            "margin_mean": statistics.fmean(c - r for c, r in pairs)}


def run(section: dict, *, model: str, train_files: list, output_dir: Path, seed: int = 42,
        eval_files: list | None = None, resume: bool | str = True) -> dict:
    """Train, save `output_dir/final`, and return the metrics (accuracy, reward mean/spread)."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    from chatrecipe.models import load_tokenizer

    output_dir = Path(output_dir)
    config, model_config, args, checkpoint = start_stage("rm", section, output_dir, seed, resume)
    tokenizer = load_tokenizer(model)
    rows, rows_eval, info = preference_rows(train_files, tokenizer, output_dir, config.max_length,
                                            with_margin=True, eval_fraction=args.eval_fraction, seed=seed)
    pair_lengths = info.pop("lengths")
    evaluate_on_held_out(config, rows_eval)
    network = load_for_training(model, args.method, model_config=model_config,
                                model_class=AutoModelForSequenceClassification, num_labels=1, **gpu_placement(config))
    network.config.pad_token_id = tokenizer.pad_token_id
    fit_activation_checkpointing(config, section, network, 2 * longest_batch_tokens(
        pair_lengths, config.per_device_train_batch_size, padded=True),  # chosen and rejected side by side
        frozen_base=args.method != "full")
    trainer = RewardTrainer(
        model=network, args=config, train_dataset=Dataset.from_list(rows),
        eval_dataset=Dataset.from_list(rows_eval) if rows_eval else None, processing_class=tokenizer,
        peft_config=peft_config(model_config, args.method, task_type="SEQ_CLS"),
    )
    if args.test_sets:  # RM accuracy curve on preference test sets (rm_eval.jsonl), see train/rm_eval_callback.py
        from chatrecipe.train.rm_eval_callback import RewardTestSetCallback

        trainer.add_callback(RewardTestSetCallback(args.test_sets, args.test_eval_steps, output_dir, tokenizer,
                                                   batch_size=config.per_device_eval_batch_size,
                                                   max_length=config.max_length, resumed=checkpoint is not None))
    trainer.add_callback(RecordCheckpoints(output_dir, stage="rm", base_model=model, method=args.method, num_labels=1))
    started = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    held_out = rows_eval or rows
    scored = [p for p in score_pairs(trainer.model, tokenizer, held_out, max_length=config.max_length) if not p.error]
    summary = reward_summary([p.chosen for p in scored], [p.rejected for p in scored])
    extra = {**info, "method": args.method, "resumed_from": checkpoint, "scored_on": "eval" if rows_eval else "train",
             **{f"reward_{k}": v for k, v in summary.items()}}
    if args.test_sets:
        from chatrecipe.train.rm_eval_callback import final_accuracies, plot_curve

        extra.update(final_accuracies(output_dir))
        plot_curve(output_dir)
    save_final(trainer, tokenizer, output_dir, base_model=model, method=args.method,
               generation_template=tokenizer.chat_template, stage="rm", num_labels=1)
    return finish(trainer, output_dir, result, started, extra,
                  {"loss": ["loss", "eval_loss"], "learning_rate": ["learning_rate"],
                   "accuracy": ["accuracy", "eval_accuracy"], "margins": ["margin", "eval_margin"]})


def main(argv: list[str] | None = None) -> None:
    """`python -m chatrecipe.train.reward --config RECIPE.yaml --model SFT_FOLDER`."""
    print(run(**parse_argv("rm", argv).run_kwargs()))


if __name__ == "__main__":
    main()
