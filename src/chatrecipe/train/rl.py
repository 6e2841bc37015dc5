"""Online RL from a trained reward model with TRL's RLOOTrainer (REINFORCE Leave-One-Out).

Run as: `chatrecipe train rl --config recipes/rlhf-demo.yaml --model runs/x/sft/final --reward-model runs/x/rm/final`.

RLOO samples `num_generations` completions per prompt, scores them with the reward model, and uses each
completion's reward minus the mean of the others as its advantage — PPO's job without a value network, which
makes it the practical RLHF choice on small hardware. The prompts are the preference data's prompts; the
reward model is the one `train rm` produced (adapter or full), loaded as a one-output classifier.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatrecipe.train.args import start_stage
from chatrecipe.train.launch import parse_argv
from chatrecipe.train.outputs import (RecordCheckpoints, TrainingInputError, finish, load_training_records,
                                      save_final)
from chatrecipe.train.peft_setup import gpu_placement, load_for_training, peft_config


def load_reward_model(reward_model: str):
    """The reward model as a frozen one-output classifier, and its tokenizer."""
    from transformers import AutoModelForSequenceClassification

    from chatrecipe.models import load_model, load_tokenizer

    model = load_model(reward_model, model_class=AutoModelForSequenceClassification, dtype="float32")
    if model.config.num_labels != 1:
        raise TrainingInputError(f"{reward_model}: a reward model needs one output, this head has "
                                 f"{model.config.num_labels}")
    tokenizer = load_tokenizer(reward_model)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def reward_trend(rewards: list[float]) -> dict:
    """Mean reward over the first and the last quarter of the steps: one step's reward is too noisy to compare."""
    if not rewards:
        return {}
    quarter = max(1, len(rewards) // 4)
    first, last = rewards[:quarter], rewards[-quarter:]
    return {"reward_first_quarter_mean": sum(first) / len(first), "reward_last_quarter_mean": sum(last) / len(last)}


def run(section: dict, *, model: str, reward_model: str, prompt_files: list, output_dir: Path, seed: int = 42,
        resume: bool | str = True) -> dict:
    """Train the policy against the reward model; save `output_dir/final`; return metrics (reward curve)."""
    from datasets import Dataset
    from trl import RLOOTrainer

    from chatrecipe.models import load_tokenizer

    output_dir = Path(output_dir)
    config, model_config, args, checkpoint = start_stage("rl", section, output_dir, seed, resume)
    records = load_training_records(prompt_files, "preference", output_dir)
    prompts = Dataset.from_list([{"prompt": r["prompt"]} for r in records])
    scorer, scorer_tokenizer = load_reward_model(reward_model)
    tokenizer = load_tokenizer(model)
    trainer = RLOOTrainer(
        model=load_for_training(model, args.method, model_config=model_config, **gpu_placement(config)),
        reward_funcs=scorer, args=config, train_dataset=prompts, processing_class=tokenizer,
        reward_processing_classes=scorer_tokenizer, peft_config=peft_config(model_config, args.method),
    )
    trainer.add_callback(RecordCheckpoints(output_dir, stage="rl", base_model=model, method=args.method))
    started = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    extra = {"prompts": len(prompts), "method": args.method, "reward_model": reward_model, "resumed_from": checkpoint,
             **reward_trend(rewards)}
    save_final(trainer, tokenizer, output_dir, base_model=model, method=args.method,
               generation_template=tokenizer.chat_template, stage="rl")
    return finish(trainer, output_dir, result, started, extra,
                  {"reward": ["reward"], "loss": ["loss"], "learning_rate": ["learning_rate"],
                   "kl": ["kl"], "completion_length": ["completions/mean_length"]})


def main(argv: list[str] | None = None) -> None:
    """`python -m chatrecipe.train.rl --config RECIPE.yaml --model SFT --reward-model RM`."""
    print(run(**parse_argv("rl", argv).run_kwargs()))


if __name__ == "__main__":
    main()
