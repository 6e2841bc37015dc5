"""Session-wide fixtures: tiny random models and a tokenizer trained on the spot (never a hub download)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

FIXTURE_TEXT = [
    "The capital of France is Paris.",
    "Write a haiku about the sea. Waves fold into foam, the tide forgets its own name, salt stays on the rocks.",
    "Classify the sentiment: I loved this film. Positive.",
    "def add(a, b):\n    return a + b",
    "What is 12 times 7? 12 times 7 is 84.",
    "Summarize: The meeting moved to Friday because the room was booked. Summary: meeting moved to Friday.",
    "Brainstorm three names for a bakery: Crumb & Co, Rise Up, The Daily Loaf.",
    "Rewrite this politely: Send me the file now. Could you please send me the file when you have a moment?",
    "Extract the dates: We met on 3 May and again on 9 June. 3 May, 9 June.",
    "Hello! How can I help you today? I am happy to help with questions, writing and code.",
] * 20

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'"
    " + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tokenizer():
    """A byte-level BPE tokenizer trained on fixture text, with ChatML markers and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(FIXTURE_TEXT, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


def build_tiny_model(folder: Path, tokenizer, *, reward: bool = False, num_labels: int = 1, seed: int = 0) -> Path:
    """Save a 2-layer Llama (hidden 32) with the tokenizer; `reward=True` saves the sequence-classification twin
    with `num_labels` outputs (a reward model has one; tests of refusal use more)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    if reward:
        config.num_labels = num_labels
        model = LlamaForSequenceClassification(config)
    else:
        model = LlamaForCausalLM(config)
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory, tiny_tokenizer) -> Path:
    """Folder of a tiny random causal LM with a ChatML tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_reward_model_path(tmp_path_factory, tiny_tokenizer) -> Path:
    """Folder of the tiny model's sequence-classification twin (one output), as a reward model."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-rm"), tiny_tokenizer, reward=True)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Keep caches of each test apart, except the embedded model's conversion, which is shared and slow."""
    shared = os.environ.get("CHATRECIPE_HOME") or str(Path.home() / ".cache" / "chatrecipe")
    monkeypatch.setenv("CHATRECIPE_HOME", shared)
    yield


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium driven by Playwright (no browser download); skipped only where it is absent."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# One fitted task classifier for every test that needs one (a fit embeds each labelled prompt twice: minutes on 2 cores).
@pytest.fixture(scope="session")
def embedder():
    from chatrecipe.data.embeddings import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def classify_home(tmp_path_factory):
    """A $CHATRECIPE_HOME whose classify/ cache holds the fit, so CLI tests pointed at it do not fit again."""
    return tmp_path_factory.mktemp("chatrecipe-home")


@pytest.fixture(scope="session")
def classifier(embedder, classify_home):
    from chatrecipe.data.classify import EmbeddingClassifier

    return EmbeddingClassifier.fit(embedder=embedder, cache_dir=classify_home / "classify")
