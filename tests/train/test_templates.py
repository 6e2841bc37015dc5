"""The end-of-turn token must be trained: the check catches templates and settings that would never stop."""

from __future__ import annotations

import copy

from chatrecipe.train.templates import SAMPLE_CONVERSATION, check_template, training_template


def test_training_template_renders_the_same_text_and_trains_im_end(tiny_tokenizer):
    template = training_template(tiny_tokenizer)
    assert "{% generation %}" in template
    same = [tiny_tokenizer.apply_chat_template(SAMPLE_CONVERSATION, chat_template=t, tokenize=False)
            for t in (template, tiny_tokenizer.chat_template)]
    assert same[0] == same[1]
    report = check_template(tiny_tokenizer, generation_eos_ids=tiny_tokenizer.convert_tokens_to_ids("<|im_end|>"))
    assert report.ok, report.problems
    trained = [token for token, on in report.tokens if on]
    assert trained.count("<|im_end|>") == 2
    assert "user" not in "".join(trained)


def test_check_fails_when_end_of_turn_is_outside_the_mask(tiny_tokenizer):
    bad = training_template(tiny_tokenizer).replace(
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}",
        "{% generation %}{{ message['content'] }}{% endgeneration %}{{ '<|im_end|>' }}")
    report = check_template(tiny_tokenizer, bad)
    assert not report.ok and any("never learn to stop" in p for p in report.problems)


def test_check_fails_on_wrong_stop_tokens_and_template_drift(tiny_tokenizer):
    report = check_template(tiny_tokenizer, generation_eos_ids=[tiny_tokenizer.pad_token_id])
    assert any("do not include the end-of-turn" in p for p in report.problems)
    drift = training_template(tiny_tokenizer).replace("'<|im_start|>' + message['role']",
                                                      "'<|im_start|> ' + message['role']")
    assert any("renders different text" in p for p in check_template(tiny_tokenizer, drift).problems)


def test_non_chatml_template_without_markers_is_refused(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    report = check_template(tokenizer)
    assert not report.ok and "generation" in report.problems[0]


def test_check_template_command_on_a_model_folder(tiny_model_path, capsys):
    from chatrecipe.train.templates import check_template_command

    assert check_template_command(str(tiny_model_path)) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "substituted" not in out


def test_check_template_says_when_it_substituted_chatml(tmp_path, tiny_tokenizer, capsys):
    """A model without a chat template is checked with chatrecipe's ChatML: the OK must say so."""
    import shutil

    from chatrecipe.train.templates import check_template_command
    from tests.conftest import build_tiny_model

    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = None
    folder = build_tiny_model(tmp_path / "plain", tokenizer)
    for leftover in folder.glob("chat_template.*"):
        leftover.unlink() if leftover.is_file() else shutil.rmtree(leftover)
    assert check_template_command(str(folder)) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "no chat template of its own: chatrecipe substituted ChatML" in out


# The chat template of the alignment-handbook's recipes/zephyr-7b-beta/sft/config_full.yaml, as published
HANDBOOK_ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}")


def test_shipped_zephyr_template_renders_the_handbooks_text_and_marks_replies(tiny_tokenizer):
    from pathlib import Path

    from chatrecipe.train.templates import without_generation_markers

    ours = (Path(__file__).resolve().parents[2] / "recipes" / "templates" / "zephyr.jinja").read_text()
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]
    for template in (ours, without_generation_markers(ours)):
        for prompt in (False, True):
            assert tiny_tokenizer.apply_chat_template(chat, chat_template=template, tokenize=False,
                                                      add_generation_prompt=prompt) == \
                tiny_tokenizer.apply_chat_template(chat, chat_template=HANDBOOK_ZEPHYR, tokenize=False,
                                                   add_generation_prompt=prompt)
    assert "generation %}" not in without_generation_markers(ours)
    encoded = tiny_tokenizer.apply_chat_template(chat[:3], chat_template=ours, tokenize=True, return_dict=True,
                                                 return_assistant_tokens_mask=True)
    trained = tiny_tokenizer.decode([i for i, m in zip(encoded["input_ids"], encoded["assistant_masks"]) if m])
    assert trained == "Hello!" + tiny_tokenizer.eos_token  # the reply and its end-of-turn, nothing else
