"""DPO from an SFT adapter and a margin-aware reward model, on TRL with tiny models."""

from __future__ import annotations

import json
import math

import pytest

from chatrecipe.train import dpo, reward, sft
from chatrecipe.train.outputs import TrainingInputError
from tests.conftest import build_tiny_model
from tests.train_fixtures import write_conversations, write_preferences

FAST = {"max_steps": 3, "per_device_train_batch_size": 2, "logging_steps": 1, "save_steps": 3,
        "learning_rate": 1e-2, "bf16": False, "activation_checkpointing": False}


@pytest.fixture(scope="module")
def sft_adapter(tmp_path_factory, tiny_model_path):
    root = tmp_path_factory.mktemp("sft")
    sft.run(FAST, model=str(tiny_model_path), train_files=[write_conversations(root / "c.jsonl")],
            output_dir=root / "out")
    return root / "out" / "final"


def test_dpo_from_sft_adapter_stacks_and_loads(tmp_path, sft_adapter):
    from chatrecipe.models import load_model

    data = write_preferences(tmp_path / "p.jsonl")
    metrics = dpo.run(FAST, model=str(sft_adapter), train_files=[data], output_dir=tmp_path / "dpo")
    assert metrics["global_step"] == 3 and math.isfinite(metrics["train_loss"])
    final = tmp_path / "dpo" / "final"
    assert json.loads((final / "chatrecipe_model.json").read_text())["base_model"] == str(sft_adapter)
    assert (tmp_path / "dpo" / "accuracy.png").exists() and (tmp_path / "dpo" / "margins.png").exists()
    loaded, sft_only = load_model(str(final)), load_model(str(sft_adapter))  # base + SFT + DPO, merged
    changed = [n for n, p in loaded.state_dict().items() if not p.equal(sft_only.state_dict()[n])]
    assert changed, "DPO adapter changed no weight"


def test_reward_model_uses_margins_and_reports_rewards(tmp_path, tiny_model_path):
    data = write_preferences(tmp_path / "p.jsonl", n=16)
    metrics = reward.run({**FAST, "eval_fraction": 0.25}, model=str(tiny_model_path), train_files=[data],
                         output_dir=tmp_path / "rm")
    assert metrics["margins_used"] is True and metrics["eval_pairs"] == 4
    for key in ("reward_accuracy", "reward_chosen_mean", "reward_chosen_std", "reward_rejected_mean"):
        assert math.isfinite(metrics[key])
    from transformers import AutoModelForSequenceClassification

    from chatrecipe.models import load_model

    model = load_model(str(tmp_path / "rm" / "final"), model_class=AutoModelForSequenceClassification)
    assert model.config.num_labels == 1


def test_margins_dropped_when_some_are_missing_and_identical_pairs_rejected(tmp_path, tiny_model_path):
    rows = [json.loads(line) for line in write_preferences(tmp_path / "p.jsonl").read_text().splitlines()]
    rows[0]["margin"] = None
    rows[1]["rejected"] = rows[1]["chosen"]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = reward.run(FAST, model=str(tiny_model_path), train_files=[tmp_path / "p.jsonl"],
                         output_dir=tmp_path / "rm")
    assert metrics["margins_used"] is False
    assert "identical to chosen" in (tmp_path / "rm" / "train.rejected.jsonl").read_text()
    with pytest.raises(TrainingInputError):
        dpo.run(FAST, model=str(tiny_model_path), train_files=[tmp_path / "missing.jsonl"],
                output_dir=tmp_path / "x")


def test_rloo_with_the_trained_reward_model(tmp_path, sft_adapter, tiny_model_path):
    from chatrecipe.train import rl

    data = write_preferences(tmp_path / "p.jsonl", n=8)
    reward.run(FAST, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "rm")
    metrics = rl.run({**FAST, "max_steps": 2, "num_generations": 2, "max_completion_length": 8,
                      "per_device_train_batch_size": 2},
                     model=str(sft_adapter), reward_model=str(tmp_path / "rm" / "final"), prompt_files=[data],
                     output_dir=tmp_path / "rl")
    assert metrics["global_step"] == 2 and metrics["reward_first_quarter_mean"] is not None
    assert (tmp_path / "rl" / "final" / "adapter_config.json").exists() and (tmp_path / "rl" / "reward.png").exists()


def test_reward_model_with_several_outputs_is_refused(tmp_path, tiny_tokenizer):
    from chatrecipe.train.rl import load_reward_model

    build_tiny_model(tmp_path / "three", tiny_tokenizer, reward=True, num_labels=3)
    with pytest.raises(TrainingInputError, match="one output, this head has 3"):
        load_reward_model(str(tmp_path / "three"))


def test_merge_adapter_gives_the_same_model(tmp_path, sft_adapter):
    import torch

    from chatrecipe.models import load_model
    from chatrecipe.train.peft_setup import merge_adapter

    merged = merge_adapter(sft_adapter, tmp_path / "merged")
    assert (merged / "model.safetensors").exists() and not (merged / "adapter_config.json").exists()
    a, b = load_model(str(merged)).state_dict(), load_model(str(sft_adapter)).state_dict()
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k]) for k in a)
    assert json.loads((merged / "chatrecipe_model.json").read_text())["merged_from"] == str(sft_adapter)


def test_reward_model_starts_from_the_sft_adapter(tmp_path, sft_adapter):
    data = write_preferences(tmp_path / "p.jsonl", n=8)
    metrics = reward.run(FAST, model=str(sft_adapter), train_files=[data], output_dir=tmp_path / "rm")
    assert metrics["global_step"] == 3 and math.isfinite(metrics["reward_accuracy"])
    # a checkpoint loads like final/: on the SFT adapter's model, with the one-output head (same step, same scores)
    import torch
    from transformers import AutoModelForSequenceClassification

    from chatrecipe.models import load_model

    record = json.loads((tmp_path / "rm" / "checkpoint-3" / "chatrecipe_model.json").read_text())
    assert record["base_model"] == str(sft_adapter) and record["num_labels"] == 1 and record["checkpoint"]
    ids = torch.tensor([[5, 17, 42, 9]])
    scores = [load_model(str(tmp_path / "rm" / name), model_class=AutoModelForSequenceClassification).eval()(
        input_ids=ids).logits for name in ("final", "checkpoint-3")]
    assert scores[0].shape == (1, 1) and torch.allclose(scores[0], scores[1])


def test_reward_trend_compares_quarters_not_single_steps():
    from chatrecipe.train.rl import reward_trend

    trend = reward_trend([0.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1.0, -0.2])
    assert trend == {"reward_first_quarter_mean": -0.5, "reward_last_quarter_mean": 0.4}
    assert reward_trend([]) == {}


def test_dpo_and_reward_model_take_multi_message_completions(tmp_path, tiny_model_path):
    """HH-RLHF, Arena and TRL implicit-prompt pairs that differ before the last reply keep several messages per
    side (user turns included), as TRL's trainers take them: none is rejected and both trainers run on them."""
    from pathlib import Path

    from chatrecipe.data.convert import convert
    from chatrecipe.data.records import write_records

    fixtures = Path(__file__).parents[1] / "data" / "fixtures"
    records = [r for name in ("hh-rlhf.jsonl", "arena-conversations.jsonl", "trl-implicit-prompt.jsonl")
               for r in convert(fixtures / name).records]
    assert sum(len(r["chosen"]) == 3 and r["chosen"][1]["role"] == "user" for r in records) == 3
    data = tmp_path / "pairs.jsonl"
    write_records(data, records)
    metrics = dpo.run(FAST, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "dpo")
    assert metrics["pairs"] == 6 and math.isfinite(metrics["train_loss"])
    assert not (tmp_path / "dpo" / "train.rejected.jsonl").exists()
    metrics = reward.run(FAST, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "rm")
    assert metrics["pairs"] + metrics["eval_pairs"] == 6 and math.isfinite(metrics["train_loss"])
