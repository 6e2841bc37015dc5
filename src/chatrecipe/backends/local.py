"""Local transformers backend: batched generation with left padding and a KV cache, on the model's own template.

Prompts are sorted by length before batching so a batch pads little; generation stops on the template's
end-of-turn token (recorded with trained models in `chatrecipe_model.json`) as well as EOS, and on any stop
strings. One prompt at a time is ~5-10x slower on a CPU than batches of 8-32 (PERFORMANCE-NOTES).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from chatrecipe.backends.base import Backend, ChatResult, GenerationParams


def stop_token_ids(tokenizer, ref: str) -> list[int]:
    """End-of-turn and EOS ids: from the trained model's record when present, else the template's markers."""
    names = ["<|im_end|>", tokenizer.eos_token]
    meta = Path(ref) / "chatrecipe_model.json"
    if meta.is_file():
        names = json.loads(meta.read_text()).get("stop_tokens", []) + names
    ids = [tokenizer.convert_tokens_to_ids(n) for n in names if n and n in tokenizer.get_vocab()]
    return list(dict.fromkeys(ids))


# below this temperature sampling is greedy in all but name, and logits / temperature overflow to inf (a crash in
# torch.multinomial): such requests decode greedily, as vLLM does below the same threshold
MIN_SAMPLING_TEMPERATURE = 1e-5


class TransformersBackend(Backend):
    """Answers with a local model (any chatrecipe model reference: embedded, folder, GGUF, adapter, hub id)."""

    def __init__(self, ref: str, *, name: str | None = None, batch_size: int = 8, dtype: str | None = None,
                 threads: int | None = None):
        import torch

        from chatrecipe.models import load_model, load_tokenizer

        if threads:
            torch.set_num_threads(threads)
        self.ref, self.model, self.batch_size = ref, name or ref, batch_size
        self.tokenizer = load_tokenizer(ref)
        self.tokenizer.padding_side = "left"
        if torch.cuda.is_available():
            # on a GPU: the model on the card, in bf16 unless asked otherwise (fp32 doubles the memory and the time)
            dtype = dtype or ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")
            self.network = load_model(ref, dtype=dtype, device_map={"": torch.cuda.current_device()}).eval()
        else:
            self.network = load_model(ref, dtype=dtype).eval()
        self.stop_ids = stop_token_ids(self.tokenizer, ref)
        self.dtype = str(self.network.dtype)
        self._tokenizing = threading.Lock()  # a fast tokenizer is not safe to share across threads

    def describe(self) -> dict:
        return {"backend": "transformers", "model": self.model, "ref": self.ref, "dtype": self.dtype,
                "chat_template": self.tokenizer.chat_template}

    @property
    def context_window(self) -> int | None:
        """Positions the model was built for (prompt and answer together); past them it slows and degrades."""
        config = getattr(self.network.config, "text_config", None) or self.network.config
        limit = getattr(config, "max_position_embeddings", None) or getattr(self.tokenizer, "model_max_length", None)
        return int(limit) if limit and limit < 10**9 else None  # tokenizers say 1e30 when they do not know

    def prompt_tokens(self, messages) -> int:
        return len(self._prompt_ids(messages))

    def _prompt_ids(self, messages) -> list[int]:
        # a final assistant message is a prefill: the answer continues it (used to make small judges commit)
        prefill = bool(messages) and messages[-1]["role"] == "assistant"
        with self._tokenizing:  # a server counts prompt tokens in other threads while the model generates
            return self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=not prefill,
                                                      continue_final_message=prefill, tokenize=True,
                                                      return_dict=True)["input_ids"]

    def chat(self, conversations, params=None, *, progress=None, on_result=None):
        import torch

        params = params or GenerationParams()
        prompts = [self._prompt_ids(m) for m in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[ChatResult | None] = [None] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            padded = self.tokenizer.pad({"input_ids": [prompts[i] for i in batch]},
                                        return_tensors="pt").to(self.network.device)
            sample = params.temperature >= MIN_SAMPLING_TEMPERATURE
            kwargs = dict(max_new_tokens=params.max_new_tokens, eos_token_id=self.stop_ids,
                          pad_token_id=self.tokenizer.pad_token_id, do_sample=sample)
            if sample:
                kwargs.update(temperature=params.temperature, top_p=params.top_p)
            if params.stop:
                kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
            if params.seed is not None:
                torch.manual_seed(params.seed + start)
            with torch.no_grad():
                output = self.network.generate(**padded, **kwargs)
            width = padded["input_ids"].shape[1]
            for row, index in enumerate(batch):
                new = output[row, width:].tolist()
                # ending before the budget without a stop token means a stop string matched
                finish = "length" if len(new) >= params.max_new_tokens else "stop"
                for position, token in enumerate(new):
                    if token in self.stop_ids:
                        new, finish = new[:position], "stop"
                        break
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                for stop in params.stop:
                    if stop in text:
                        text, finish = text[:text.index(stop)], "stop"
                results[index] = ChatResult(text=text.strip(), prompt_tokens=len(prompts[index]),
                                            completion_tokens=len(new), finish_reason=finish)
            self.book([results[i] for i in batch])  # booked and handed on per batch, as the answers exist
            if progress:
                progress(len(batch))
            if on_result:
                for index in batch:
                    on_result(index, results[index])
        return results

    def close(self) -> None:
        self.network = None
