"""Decontamination: find training records that share long n-grams with evaluation sets ("doping").

Run as: `chatrecipe data decontaminate train.jsonl --eval questions.jsonl -o clean.jsonl [--n 13]`.

A training example that contains a 13-word span of an evaluation question (the GPT-3 / lm-eval convention)
lets a model score on memory rather than skill; the recipe's judge audit found exactly this between training
data and evaluation prompts. Eval texts shorter than n words are matched whole.
"""

from __future__ import annotations

from chatrecipe.data.text import full_text, ngrams, prompt_text, words


def _eval_index(eval_sets: list[list[dict]], n: int) -> dict[tuple, str]:
    index: dict[tuple, str] = {}
    for records in eval_sets:
        for record in records:
            rid = str(record.get("question_id", record.get("id", "?")))
            # each turn on its own too: a training record may repeat one short turn of a multi-turn question
            texts = [prompt_text(record) or full_text(record)] + list(record.get("turns") or [])
            for text in texts:
                grams = ngrams(text, n) or ({tuple(words(text))} if words(text) else set())
                for gram in grams:
                    index.setdefault(gram, rid)
    return index


def decontaminate(records: list[dict], eval_sets: list[list[dict]], n: int = 13) -> tuple[list, list]:
    """(clean records, report) where the report lists each contaminated id with the eval id and matching text."""
    index = _eval_index(eval_sets, n)
    short = {g for g in index if len(g) < n}
    clean, report = [], []
    for position, record in enumerate(records):
        text = full_text(record)
        grams = ngrams(text, n)
        hit = next((g for g in grams if g in index), None)
        if hit is None and short:
            joined = " " + " ".join(words(text)) + " "
            hit = next((g for g in short if " " + " ".join(g) + " " in joined), None)
        if hit is None:
            clean.append(record)
        else:
            report.append({"id": record.get("id", position), "eval_id": index[hit], "match": " ".join(hit)})
    return clean, report
