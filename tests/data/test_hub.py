"""A Hub dataset id reads like a local file when the `datasets` cache is warm, offline; a cold cache gives a
message that says how to warm it, not a network traceback. Each run is a fresh process with its own HF_HOME
and HF_HUB_OFFLINE=1, since `datasets` reads both once, at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "h4-ultrachat-200k.jsonl"
CONVERT = ("import json, sys\n"
           "from chatrecipe.data.convert import convert\n"
           "from chatrecipe.data.records import RecordFileError\n"
           "try:\n"
           "    r = convert(sys.argv[1])\n"
           "except RecordFileError as exc:\n"
           "    print(json.dumps({'error': str(exc)})); sys.exit(0)\n"
           "print(json.dumps({'format': r.format, 'records': len(r.records), 'rejected': len(r.rejected),\n"
           "                  'files': sorted({x['file'] for x in r.rejected}), 'reason': r.reason}))\n")


def run(name: str, home: Path) -> dict:
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("HF_DATASETS_CACHE", None)
    done = subprocess.run([sys.executable, "-c", CONVERT, name], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def warm_cache(home: Path, repo: str) -> None:
    """Leave the cache as one earlier `load_dataset(repo)` would: the prepared Arrow split under owner___name."""
    script = ("import datasets, glob, os, shutil, sys\n"
              "home, repo, data = sys.argv[1:]\n"
              "datasets.load_dataset('json', data_files={'train_sft': data}, cache_dir=os.path.join(home, 'b'))\n"
              "src = [p for p in glob.glob(os.path.join(home, 'b', 'json', '*', '*', '*')) if os.path.isdir(p)][0]\n"
              "owner, name = repo.split('/')\n"
              "dst = os.path.join(datasets.config.HF_DATASETS_CACHE, f'{owner}___{name}', 'default', '0.0.0', 'x1')\n"
              "shutil.copytree(src, dst)\n"
              "os.rename(os.path.join(dst, 'json-train_sft.arrow'), os.path.join(dst, f'{name}-train_sft.arrow'))\n")
    env = {**os.environ, "HF_HOME": str(home)}
    env.pop("HF_DATASETS_CACHE", None)
    subprocess.run([sys.executable, "-c", script, str(home), repo, str(FIXTURE)], env=env, check=True,
                   capture_output=True)


def test_hub_id_from_a_warm_cache_offline(tmp_path):
    warm_cache(tmp_path, "HuggingFaceH4/ultrachat_200k")
    result = run("HuggingFaceH4/ultrachat_200k", tmp_path)
    assert (result["format"], result["records"], result["rejected"]) == ("h4", 2, 1)
    assert result["files"] == ["HuggingFaceH4/ultrachat_200k[train_sft]"]


def test_hub_id_with_a_cold_cache_says_how_to_warm_it(tmp_path):
    error = run("HuggingFaceH4/ultrachat_200k", tmp_path)["error"]
    assert error.startswith("HuggingFaceH4/ultrachat_200k: no such file or folder, and not a Hub dataset")
    assert "offline mode" in error and "datasets.load_dataset('HuggingFaceH4/ultrachat_200k')" in error
    missing_file = run("data/train.jsonl", tmp_path)["error"]  # a path with a suffix is a missing file, not an id
    assert missing_file == "data/train.jsonl: no such file or folder; check the path"


def test_one_split_of_a_hub_dataset(tmp_path):
    """`owner/name[split]`, as the Zephyr recipe names ultrachat_200k's SFT rows."""
    warm_cache(tmp_path, "HuggingFaceH4/ultrachat_200k")
    result = run("HuggingFaceH4/ultrachat_200k[train_sft]", tmp_path)
    assert (result["format"], result["records"], result["rejected"]) == ("h4", 2, 1)
    assert result["files"] == ["HuggingFaceH4/ultrachat_200k[train_sft]"]
    missing = run("HuggingFaceH4/ultrachat_200k[test_gen]", tmp_path)["error"]
    assert missing.startswith("HuggingFaceH4/ultrachat_200k[test_gen]: no such file or folder, and not a Hub")
