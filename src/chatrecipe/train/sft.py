"""Supervised fine-tuning on chat demonstrations with TRL's SFTTrainer (full, LoRA or QLoRA).

Run as: `chatrecipe train sft --config recipes/demo.yaml` or, on many GPUs,
`accelerate launch -m chatrecipe.train.sft --config recipes/x.yaml`.

Loss is on assistant tokens only, end-of-turn included (checked before step 1, see templates.py); batches are
padding-free by default because pad tokens are the largest waste of compute on a CPU (PERFORMANCE-NOTES).
"""

from __future__ import annotations

import time
from pathlib import Path

from chatrecipe.train.args import start_stage
from chatrecipe.train.fast.checkpointing import fit_activation_checkpointing, longest_batch_tokens
from chatrecipe.train.fast.logits_head import SFT_EXTRAS, install_lm_head
from chatrecipe.train.launch import parse_argv
from chatrecipe.train.outputs import (RecordCheckpoints, TrainingInputError, finish, load_training_records,
                                      reject_too_long, save_final)
from chatrecipe.train.peft_setup import gpu_placement, load_for_training, peft_config
from chatrecipe.train.templates import check_template, training_template, without_generation_markers


def run(section: dict, *, model: str, train_files: list, output_dir: Path, seed: int = 42,
        eval_files: list | None = None, resume: bool | str = True, callbacks: tuple = ()) -> dict:
    """Train, save `output_dir/final`, and return the metrics (loss, steps, time, tokens/s).

    `callbacks` are extra `TrainerCallback`s (benchmarks time steady-state steps with one).
    """
    from datasets import Dataset
    from trl import SFTTrainer

    from chatrecipe.models import load_tokenizer

    output_dir = Path(output_dir)
    config, model_config, args, checkpoint = start_stage("sft", section, output_dir, seed, resume)
    tokenizer = load_tokenizer(model)
    file_template = None
    if config.chat_template_path and config.chat_template_path.endswith((".jinja", ".j2")):
        # a template file (the Zephyr recipe's) replaces the model's; TRL would set it only after our checks, so
        # it is read here and TRL is not asked again. Generation gets the same template without its markers.
        file_template = Path(config.chat_template_path).read_text(encoding="utf-8")
        tokenizer.chat_template = without_generation_markers(file_template)
        config.chat_template_path = None
    generation_template = tokenizer.chat_template
    if not config.assistant_only_loss:
        train_template = generation_template
    elif file_template and file_template != generation_template:  # the file has generation markers
        train_template = file_template
    else:
        train_template = training_template(tokenizer)
    report = check_template(tokenizer, train_template)
    if config.assistant_only_loss and not report.ok:
        raise TrainingInputError("chat template check failed: " + "; ".join(report.problems))

    records = load_training_records(train_files, "conversation", output_dir)
    rows = [{"messages": r["messages"]} for r in records]
    lengths = [len(tokenizer.apply_chat_template(r["messages"], chat_template=train_template, tokenize=True,
                                                 return_dict=True)["input_ids"]) for r in rows]
    rows, lengths = reject_too_long(rows, lengths, config.max_length, output_dir, "messages")
    train_tokens = sum(lengths)
    eval_dataset = None
    if eval_files:
        eval_dataset = Dataset.from_list([{"messages": r["messages"]}
                                          for r in load_training_records(eval_files, "conversation", output_dir)])

    if config.padding_free and not config.packing:
        config.max_length = None  # enforced above by rejecting (and reporting) longer examples, as TRL asks
    tokenizer.chat_template = train_template  # TRL builds the assistant mask from the generation markers
    policy = load_for_training(model, args.method, model_config=model_config, **gpu_placement(config))
    memory = fit_activation_checkpointing(config, section, policy, longest_batch_tokens(
        lengths, config.per_device_train_batch_size, padded=not config.padding_free), frozen_base=args.method != "full")
    trainer = SFTTrainer(
        model=policy,
        args=config,
        train_dataset=Dataset.from_list(rows),
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=peft_config(model_config, args.method),
    )
    lm_head = install_lm_head(trainer, args.lm_head, SFT_EXTRAS)
    trainer.add_callback(RecordCheckpoints(output_dir, stage="sft", base_model=model, method=args.method))
    for callback in callbacks:
        trainer.add_callback(callback)
    started = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    seconds = max(result.metrics.get("train_runtime", time.time() - started), 1e-9)
    trained = train_tokens * config.num_train_epochs if config.max_steps <= 0 else None
    extra = {"examples": len(rows), "tokens_per_epoch": train_tokens, "method": args.method,
             "resumed_from": checkpoint,
             "tokens_per_second": round(trained / seconds, 1) if trained and not checkpoint else None,
             "settings": {**_settings(config, model_config, args), "lm_head": lm_head,
                          "attention": policy.config._attn_implementation},
             **({"memory_estimate": memory} if memory else {})}
    save_final(trainer, tokenizer, output_dir, base_model=model, method=args.method,
               generation_template=generation_template, stage="sft")
    return finish(trainer, output_dir, result, started, extra,
                  {"loss": ["loss", "eval_loss"], "learning_rate": ["learning_rate"]})


def _settings(config, model_config, args) -> dict:
    settings = {"method": args.method, "num_train_epochs": config.num_train_epochs, "max_steps": config.max_steps,
                "learning_rate": config.learning_rate, "lr_scheduler_type": getattr(config.lr_scheduler_type, "value", config.lr_scheduler_type),
                "per_device_train_batch_size": config.per_device_train_batch_size,
                "gradient_accumulation_steps": config.gradient_accumulation_steps, "bf16": config.bf16,
                "padding_free": config.padding_free, "activation_checkpointing": config.activation_checkpointing,
                "optim": getattr(config.optim, "value", config.optim), "use_liger_kernel": config.use_liger_kernel,
                "dtype": model_config.dtype}
    if args.method != "full":
        settings.update(lora_r=model_config.lora_r, lora_alpha=model_config.lora_alpha,
                        lora_dropout=model_config.lora_dropout)
    return settings


def main(argv: list[str] | None = None) -> None:
    """`python -m chatrecipe.train.sft --config RECIPE.yaml [--set key=value]` (works under accelerate launch)."""
    print(run(**parse_argv("sft", argv).run_kwargs()))


if __name__ == "__main__":
    main()
