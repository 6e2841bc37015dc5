"""Local transformers backend and answer generation on a tiny real model: batching, stops, cache, resume."""

from __future__ import annotations

from chatrecipe.backends import load_backend
from chatrecipe.backends.base import GenerationParams
from chatrecipe.evaluate.generate import generate_answers

QUESTIONS = [{"question_id": 1, "category": "writing", "turns": ["Say hello.", "Now say it again."]},
             {"question_id": 2, "category": "math", "turns": ["What is 12 times 7?"]},
             {"question_id": 3, "category": "stem", "turns": ["Name the capital of France, please."]}]


def test_batched_equals_one_at_a_time(tiny_model_path):
    params = GenerationParams(max_new_tokens=12)
    prompts = [[{"role": "user", "content": q["turns"][0]}] for q in QUESTIONS]
    batched = load_backend(str(tiny_model_path), batch_size=8).chat(prompts, params)
    single = load_backend(str(tiny_model_path), batch_size=1).chat(prompts, params)
    assert [r.text for r in batched] == [r.text for r in single]  # left padding does not change greedy answers
    assert all(r.ok and r.completion_tokens <= 12 for r in batched)


def test_stop_strings_end_generation_early(tiny_model_path):
    backend = load_backend(str(tiny_model_path))
    prompt = [[{"role": "user", "content": "Say hello."}]]
    free = backend.chat(prompt, GenerationParams(max_new_tokens=16))[0]
    cut = backend.chat(prompt, GenerationParams(max_new_tokens=16, stop=("\n\n",)))[0]
    assert free.finish_reason == "length" and free.completion_tokens == 16  # the random model rambles newlines
    assert cut.finish_reason == "stop" and cut.completion_tokens < 16 and "\n\n" not in cut.text


def test_cache_pays_once_and_keys_on_params(tiny_model_path, tmp_path):
    backend = load_backend(str(tiny_model_path), cache_dir=tmp_path / "cache")
    prompt = [[{"role": "user", "content": "Say hello."}]]
    first = backend.chat(prompt, GenerationParams(max_new_tokens=8))
    again = backend.chat(prompt, GenerationParams(max_new_tokens=8))
    other = backend.chat(prompt, GenerationParams(max_new_tokens=9))
    assert not first[0].cached and again[0].cached and not other[0].cached
    assert again[0].text == first[0].text
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2


def test_generate_answers_multiturn_and_resume(tiny_model_path, tmp_path):
    backend = load_backend(str(tiny_model_path), name="tiny")
    out = tmp_path / "answers.jsonl"
    answers = generate_answers(backend, QUESTIONS[:2], out, GenerationParams(max_new_tokens=6))
    assert [len(a["turns"]) for a in answers] == [2, 1] and answers[0]["model"] == "tiny"
    assert answers[0]["generator"]["params"]["max_new_tokens"] == 6
    answers = generate_answers(backend, QUESTIONS, out, GenerationParams(max_new_tokens=6))
    assert [a["question_id"] for a in answers] == [1, 2, 3]
    assert len(out.read_text().splitlines()) == 3  # the first two were not generated again


def test_vllm_refuses_clearly_without_vllm_or_gpu():
    import pytest

    from chatrecipe.backends.vllm_backend import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="vLLM|CUDA"):
        load_backend("vllm:smollm2-135m-instruct")


@__import__("pytest").mark.gpu
def test_vllm_answers_like_the_local_backend():  # runs only where vLLM and a GPU exist
    import pytest
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("vllm", reason="needs vLLM (pip install 'chatrecipe[vllm]')")
    prompt = [[{"role": "user", "content": "What is the capital of France?"}]]
    fast = load_backend("vllm:smollm2-135m-instruct").chat(prompt, GenerationParams(max_new_tokens=16))
    assert "Paris" in fast[0].text


def test_ledger_books_local_tokens_and_cache_hits(tiny_model_path, tmp_path):
    from chatrecipe.backends.ledger import Ledger

    ledger = Ledger()
    backend = load_backend(str(tiny_model_path), cache_dir=tmp_path / "c", ledger=ledger)
    prompt = [[{"role": "user", "content": "Say hello."}]]
    first = backend.chat(prompt, GenerationParams(max_new_tokens=4))[0]
    backend.chat(prompt, GenerationParams(max_new_tokens=4))
    usage = ledger.usage[str(tiny_model_path)]
    assert usage == {"requests": 2, "cached": 1, "prompt_tokens": first.prompt_tokens,
                     "completion_tokens": first.completion_tokens, "cost": 0.0}
