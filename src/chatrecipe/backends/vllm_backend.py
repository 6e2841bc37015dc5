"""vLLM backend for fast generation on GPUs (continuous batching, paged attention).

Used for `vllm:<model ref>` when vLLM is installed (`pip install 'chatrecipe[vllm]'`) and a CUDA GPU is present;
otherwise a clear error says what is missing before anything loads. The model's own chat template renders the
prompts, exactly as the local transformers backend does, so answers are comparable across backends.
"""

from __future__ import annotations

import importlib.util

from chatrecipe.backends.base import Backend, ChatResult, GenerationParams


class BackendUnavailable(RuntimeError):
    """The backend cannot run here; the message says what to install or use instead."""


def check_vllm() -> None:
    if importlib.util.find_spec("vllm") is None:
        raise BackendUnavailable("vllm:<model> needs vLLM: pip install 'chatrecipe[vllm]' on a machine with a CUDA "
                                 "GPU; on a CPU use the model reference without the vllm: prefix")
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable("vLLM needs a CUDA GPU and none is visible; use the local backend (drop vllm:)")


class VLLMBackend(Backend):
    def __init__(self, ref: str, *, name: str | None = None, dtype: str | None = None,
                 gpu_memory_utilization: float = 0.85):
        check_vllm()
        from vllm import LLM

        from chatrecipe.backends.local import stop_token_ids
        from chatrecipe.models import load_tokenizer, model_path

        self.ref, self.model = ref, name or ref
        self.tokenizer = load_tokenizer(ref)
        self.stop_ids = stop_token_ids(self.tokenizer, ref)
        self.engine = LLM(model=model_path(ref), dtype=dtype or "auto", gpu_memory_utilization=gpu_memory_utilization)

    def describe(self) -> dict:
        return {"backend": "vllm", "model": self.model, "ref": self.ref}

    def chat(self, conversations, params=None, *, progress=None, on_result=None):
        from vllm import SamplingParams

        params = params or GenerationParams()
        sampling = SamplingParams(max_tokens=params.max_new_tokens, temperature=params.temperature,
                                  top_p=params.top_p, stop=list(params.stop) or None, seed=params.seed,
                                  stop_token_ids=self.stop_ids)
        prompts = [self.tokenizer.apply_chat_template(list(m), add_generation_prompt=m[-1]["role"] != "assistant",
                                                      continue_final_message=m[-1]["role"] == "assistant",
                                                      tokenize=False) for m in conversations]
        outputs = self.engine.generate(prompts, sampling, use_tqdm=False)  # one call: vLLM batches continuously
        if progress:
            progress(len(outputs))
        results = [ChatResult(text=o.outputs[0].text.strip(), prompt_tokens=len(o.prompt_token_ids),
                              completion_tokens=len(o.outputs[0].token_ids), finish_reason=o.outputs[0].finish_reason)
                   for o in outputs]
        if on_result:
            for index, result in enumerate(results):
                on_result(index, result)
        return results
