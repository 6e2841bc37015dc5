"""Chat templates for training, and the check that the model learns to stop.

Run as: `chatrecipe check-template smollm2-135m-instruct` (or a trained model folder, or a run folder).

The most common silent failure in chat fine-tuning: the end-of-turn token sits outside the loss mask, so the
model never learns to stop; the loss looks healthy and generation never ends. TRL computes assistant-only loss
from `{% generation %}` markers in the template. Most templates (SmolLM2's among them) have none, so for ChatML
templates we build a training twin that renders exactly the same text with the markers around each assistant
reply *including* its `<|im_end|>`, and we check that equality, and the mask, before training starts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

END_OF_TURN = "<|im_end|>"
SAMPLE_CONVERSATION = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Name a primary colour."},
    {"role": "assistant", "content": "Red."},
    {"role": "user", "content": "And another?"},
    {"role": "assistant", "content": "Blue."},
]
_NO_SYSTEM = SAMPLE_CONVERSATION[1:]

CHATML_TRAINING_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' and default_system %}"
    "{{ '<|im_start|>system\\n' + default_system + '<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{%- else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def without_generation_markers(template: str) -> str:
    """The generation twin of a training template: the same text without `{% generation %}` markers (the check
    before training confirms that both render the same)."""
    import re

    return re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", template)


class TemplateError(ValueError):
    """A template that would train the model wrongly; the message says what to change."""


def template_hash(template: str) -> str:
    return hashlib.sha256(template.encode()).hexdigest()[:12]


def _render(tokenizer, template: str, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False)


def _default_system(tokenizer) -> str:
    """The system prompt a template inserts when the conversation has none (SmolLM2 does this)."""
    text = _render(tokenizer, tokenizer.chat_template, _NO_SYSTEM)
    prefix = "<|im_start|>system\n"
    if text.startswith(prefix):
        return text[len(prefix):text.index(END_OF_TURN)]
    return ""


def training_template(tokenizer) -> str:
    """A template with generation markers that renders exactly what the tokenizer's own template renders."""
    original = tokenizer.chat_template
    if "{% generation %}" in original or "{%- generation %}" in original:
        return original
    if "<|im_start|>" not in original:
        raise TemplateError(
            "the model's chat template is not ChatML and has no {% generation %} markers, so the assistant-only "
            "loss mask cannot be derived; pass a template with markers (sft.chat_template_path) or set "
            "assistant_only_loss: false")
    candidate = CHATML_TRAINING_TEMPLATE.replace(
        "default_system", repr(_default_system(tokenizer))) if _default_system(tokenizer) else \
        CHATML_TRAINING_TEMPLATE.replace("and default_system", "and false")
    for messages in (SAMPLE_CONVERSATION, _NO_SYSTEM):
        if _render(tokenizer, candidate, messages) != _render(tokenizer, original, messages):
            raise TemplateError(
                "could not build a training template that renders the same text as the model's own template; "
                "pass one with {% generation %} markers via sft.chat_template_path")
    return candidate


@dataclass
class TemplateReport:
    """What a check found: the tokens with their training flag, and the problems (empty = fine)."""

    tokens: list[tuple[str, bool]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    end_of_turn: str = END_OF_TURN

    @property
    def ok(self) -> bool:
        return not self.problems


def end_of_turn_token(tokenizer) -> str:
    return END_OF_TURN if END_OF_TURN in tokenizer.get_vocab() else tokenizer.eos_token


def check_template(tokenizer, train_template: str | None = None, generation_eos_ids=None) -> TemplateReport:
    """Render the sample chat with the training template and check what the loss mask trains on."""
    report = TemplateReport(end_of_turn=end_of_turn_token(tokenizer))
    try:
        train_template = train_template or training_template(tokenizer)
    except TemplateError as exc:
        return TemplateReport(problems=[str(exc)])
    encoded = tokenizer.apply_chat_template(SAMPLE_CONVERSATION, chat_template=train_template, tokenize=True,
                                            return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    report.tokens = [(tokenizer.decode([i]), bool(m)) for i, m in zip(ids, mask)]
    eot_id = tokenizer.convert_tokens_to_ids(report.end_of_turn)
    trained_eot = sum(1 for i, m in zip(ids, mask) if i == eot_id and m)
    if trained_eot < 2:  # two assistant turns in the sample: both must end with a trained end-of-turn
        report.problems.append(f"the end-of-turn token {report.end_of_turn} is not inside the loss mask of every "
                               "assistant turn: the model would never learn to stop")
    if not any(mask):
        report.problems.append("no token is trained: the template marks no assistant content")
    if _render(tokenizer, train_template, SAMPLE_CONVERSATION) != _render(tokenizer, tokenizer.chat_template,
                                                                           SAMPLE_CONVERSATION):
        report.problems.append("the training template renders different text from the generation template")
    if generation_eos_ids is not None:
        eos = generation_eos_ids if isinstance(generation_eos_ids, (list, tuple)) else [generation_eos_ids]
        if eot_id not in eos:
            report.problems.append(f"generation stops on token ids {list(eos)}, which do not include the "
                                   f"end-of-turn token {report.end_of_turn} (id {eot_id}): answers would not end")
    return report


def _resolve_target(target: str) -> str:
    """A run folder -> its latest trained model; anything else is a model reference."""
    from pathlib import Path

    path = Path(target)
    if (path / "manifest.json").exists():
        for stage in ("rl", "dpo", "sft"):
            if (path / stage / "final").is_dir():
                return str(path / stage / "final")
    return target


def check_template_command(target: str) -> int:
    """Print the token-by-token view and the verdict; exit code 0 when training would teach the model to stop."""
    from rich.console import Console
    from rich.text import Text

    from chatrecipe.models import load_tokenizer, model_path

    console = Console()
    ref = _resolve_target(target)
    tokenizer = load_tokenizer(ref)
    eos_ids = None
    try:
        from transformers import GenerationConfig

        eos_ids = GenerationConfig.from_pretrained(model_path(ref)).eos_token_id
    except OSError:
        pass
    report = check_template(tokenizer, generation_eos_ids=eos_ids)
    text = Text()
    for token, trained in report.tokens:
        text.append(token.replace("\n", "\\n\n"), style="bold green" if trained else "dim")
    console.print("[bold]Sample conversation[/] ([bold green]green[/] = trained on, dim = context only):")
    console.print(text)
    for problem in report.problems:
        console.print(f"[red]FAIL[/] {problem}")
    added = getattr(tokenizer, "chatrecipe_substituted", None)
    if added is not None:
        console.print(f"[yellow]NOTE[/] {ref} has no chat template of its own: chatrecipe substituted ChatML, so "
                      "what follows checks ChatML, not the model's format"
                      + (f"; it also added {', '.join(added)} to the vocabulary, whose embeddings are untrained "
                         "until SFT teaches them" if added else ""))
    if report.ok:
        console.print(f"[green]OK[/] assistant turns and their {report.end_of_turn} are trained; generation stops "
                      "on it; training and generation templates render the same text"
                      + (" (with the substituted ChatML template)" if added is not None else ""))
    return 0 if report.ok else 1
