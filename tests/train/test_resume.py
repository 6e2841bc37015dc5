"""Resume: a training killed with SIGKILL mid-way continues from its last checkpoint and ends where an
uninterrupted run with the same seed ends (same global step, same weights within float tolerance, the same
whole-run train_loss), and says where it resumed from."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from tests.train_fixtures import write_conversations

SECTION = {"max_steps": 8, "per_device_train_batch_size": 2, "logging_steps": 1, "save_steps": 2,
           "learning_rate": 1e-2, "bf16": False, "activation_checkpointing": False, "method": "full",
           "save_total_limit": 10}
SCRIPT = """
import json, sys, time
from transformers import TrainerCallback
from chatrecipe.train import sft
class Slow(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        time.sleep(float(sys.argv[4]))
import trl
original = trl.SFTTrainer.__init__
def patched(self, *a, **k):
    k.setdefault("callbacks", []).append(Slow())
    original(self, *a, **k)
trl.SFTTrainer.__init__ = patched
print(json.dumps(sft.run(json.loads(sys.argv[1]), model=sys.argv[2], train_files=[sys.argv[3] + "/data.jsonl"],
                         output_dir=sys.argv[3] + "/out")["global_step"]))
"""


def _train(folder, model, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(SECTION), str(model), str(folder), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path, tiny_model_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    for folder in (straight, killed):
        folder.mkdir()
        write_conversations(folder / "data.jsonl", n=16)
    process = _train(killed, tiny_model_path, delay=0.5)
    while not (killed / "out" / "checkpoint-4" / "trainer_state.json").exists():  # the work sets the pace
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "out" / "final").exists()
    resumed = _train(killed, tiny_model_path, delay=0)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    metrics = json.loads((killed / "out" / "metrics.json").read_text())
    assert metrics["resumed_from"].endswith(("checkpoint-4", "checkpoint-6")) and metrics["global_step"] == 8
    assert metrics["resumed_at_step"] in (4, 6) and metrics["steps_without_logged_loss"] == 0
    assert f"from {metrics['resumed_from']} (step {metrics['resumed_at_step']})" in err
    reference = _train(straight, tiny_model_path, delay=0)
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err[-2000:]
    a = load_file(killed / "out" / "final" / "model.safetensors")
    b = load_file(straight / "out" / "final" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    whole = json.loads((straight / "out" / "metrics.json").read_text())["train_loss"]
    assert metrics["train_loss"] == pytest.approx(whole, rel=1e-3)  # the whole run, not only the resumed steps
    assert metrics["train_loss_this_session"] != pytest.approx(whole, rel=1e-3)
