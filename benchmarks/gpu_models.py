"""Models and data for benchmarks/gpu_check.py: random-initialised models of real shapes around the embedded model's
tokenizer, and chat data of mixed length made from the starter sets.

Shapes are configs of real models (`SHAPES`); `--tiny` shrinks every one to 2 layers of width 64 so that the same
parts run on a CPU in the test suite. The tokenizer is SmolLM2's: `benchmarks/gpu_assets/smollm2-tokenizer`
(written by gpu_wheels.sh, carried to a GPU machine without network) or else the embedded model's own folder.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent / "gpu_assets" / "smollm2-tokenizer"

# Configs of real models: the three a user trains here, and the two small ones the other stages run on
SHAPES = {
    "smollm2-1.7b": {"arch": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
                     "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 49152,
                     "rope_theta": 130000, "tie_word_embeddings": True, "max_position_embeddings": 8192},
    "llama-3.1-8b": {"arch": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
                     "rope_theta": 500000, "tie_word_embeddings": False, "max_position_embeddings": 131072},
    "smollm2-360m": {"arch": "llama", "hidden_size": 960, "intermediate_size": 2560, "num_hidden_layers": 32,
                     "num_attention_heads": 15, "num_key_value_heads": 5, "vocab_size": 49152,
                     "rope_theta": 100000, "tie_word_embeddings": True, "max_position_embeddings": 8192},
    # Mistral-7B's architecture shrunk to 2 layers: the Zephyr recipe runs on it for a few steps
    "mistral-7b-shrunk": {"arch": "mistral", "hidden_size": 256, "intermediate_size": 896, "num_hidden_layers": 2,
                          "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": None,
                          "rope_theta": 10000, "tie_word_embeddings": False, "max_position_embeddings": 32768,
                          "sliding_window": 4096},
}


TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": None}


def cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def tokenizer_folder() -> Path:
    """The carried tokenizer files (gpu_wheels.sh writes them), else the embedded model's folder (prepared here)."""
    if (ASSETS / "tokenizer.json").is_file():
        return ASSETS
    from chatrecipe.models import EMBEDDED, model_path

    return Path(model_path(EMBEDDED))


def shape_config(name: str, tiny: bool, tokenizer):
    """A transformers config of the named shape (tiny: 2 layers of width 64), with the tokenizer's special ids."""
    from transformers import LlamaConfig, MistralConfig

    fields = {**SHAPES[name], **(TINY if tiny else {})}
    arch, theta = fields.pop("arch"), fields.pop("rope_theta")
    fields["vocab_size"] = fields["vocab_size"] or len(tokenizer)
    cls = {"llama": LlamaConfig, "mistral": MistralConfig}[arch]
    return cls(**fields, rope_parameters={"rope_type": "default", "rope_theta": theta},
               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)


def model_folders(work: Path) -> dict[str, Path]:
    return {name: work / "models" / name for name in (*SHAPES, "smollm2-360m-rm")}


def part_models(args) -> dict:
    """Random-initialise every shape (on the GPU when there is one: seconds, not minutes) and save it in bf16."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder()))
    device = "cuda" if cuda() else "cpu"
    dtype = torch.bfloat16 if cuda() else torch.float32
    built = {}
    for name, folder in model_folders(args.work).items():
        shape = name.removesuffix("-rm")
        config = shape_config(shape, args.tiny, tokenizer)
        torch.manual_seed(0)
        with torch.device(device):
            if name.endswith("-rm"):
                config.num_labels = 1
                model = AutoModelForSequenceClassification.from_config(config, dtype=dtype)
            else:
                model = AutoModelForCausalLM.from_config(config, dtype=dtype)
                model.generation_config.eos_token_id = tokenizer.eos_token_id
                model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        text = config.get_text_config()
        total = sum(p.numel() for p in model.parameters())
        embedding = model.get_input_embeddings().weight.numel()
        built[name] = {"parameters": total, "layers": text.num_hidden_layers,
                       # weights that multiply activations: the input embedding is a lookup unless it is tied to the head
                       "matmul_parameters": total - (0 if config.tie_word_embeddings else embedding),
                       "attention_width": text.num_attention_heads * (getattr(text, "head_dim", None)
                                                                      or text.hidden_size // text.num_attention_heads)}
        del model
    return {"models": built, "tokenizer": str(tokenizer_folder())}


def starter(kind: str) -> list[dict]:
    from chatrecipe.data.records import load_records
    from chatrecipe.data.resources import resource_path

    name = "starter:sft.jsonl" if kind == "conversation" else "starter:preferences.jsonl"
    return load_records(resource_path(name), kind).records


def write_conversations(path: Path, count: int, chain: tuple[int, int], seed: int = 0) -> Path:
    """Multi-turn conversations of mixed length: each chains a random number of consecutive starter conversations
    (so lengths spread like real chat data's, which is what padding wastes compute on)."""
    records, rng = starter("conversation"), random.Random(seed)
    rows = []
    for index in range(count):
        start, length = rng.randrange(len(records)), rng.randint(*chain)
        messages = [m for k in range(length) for m in records[(start + k) % len(records)]["messages"]
                    if m["role"] != "system"]
        rows.append({"id": f"gpu-check-{index}", "messages": messages})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_pairs(path: Path, count: int) -> Path:
    records = starter("preference")
    path.write_text("".join(json.dumps(r) + "\n" for r in (records * 4)[:count]))
    return path


def peak_memory() -> dict:
    import torch

    if not cuda():
        return {}
    return {"peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2 ** 30, 2)}

