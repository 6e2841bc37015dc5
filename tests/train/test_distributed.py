"""Many processes: the unchanged training module under `accelerate launch` with 2 CPU processes (gloo DDP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.train_fixtures import write_conversations


@pytest.mark.slow
def test_two_process_data_parallel_sft(tmp_path, tiny_model_path):
    write_conversations(tmp_path / "data.jsonl", n=16)
    recipe = tmp_path / "ddp.yaml"
    recipe.write_text(f"""
name: ddp
model: {{name: {tiny_model_path}}}
data: {{sft_files: ["{tmp_path / 'data.jsonl'}"]}}
sft: {{max_steps: 4, per_device_train_batch_size: 2, logging_steps: 1, save_steps: 2, bf16: false,
       activation_checkpointing: false, method: lora}}
""")
    # `--cpu` alone starts a single process; `--multi_gpu` starts torch.distributed workers, and without CUDA
    # the trainer's `use_cpu` makes them a gloo process group on the CPU
    from tests.servers import free_port

    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()),
               "-m", "chatrecipe.train.sft", "--config", str(recipe), "--output-dir", str(tmp_path / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["world_size"] == 2
    history = json.loads((tmp_path / "out" / "log_history.json").read_text())
    assert history[-1]["step"] == 4
    state = json.loads((tmp_path / "out" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and state["train_batch_size"] == 2
    assert (tmp_path / "out" / "final" / "adapter_model.safetensors").exists()
    # two processes of 2 examples each: 4 steps cover 16 examples, i.e. one epoch
    assert history[-1]["epoch"] == pytest.approx(1.0)
