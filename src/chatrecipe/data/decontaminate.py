"""Decontamination: find training records that share long n-grams with evaluation sets ("doping").

Run as: `chatrecipe data decontaminate train.jsonl --eval questions.jsonl -o clean.jsonl [--n 13]`.

A training example that contains a 13-word span of an evaluation question (the GPT-3 / lm-eval convention)
lets a model score on memory rather than skill; the recipe's judge audit found exactly this between training
data and evaluation prompts. An n-gram test cannot see an evaluation text shorter than n words (a quarter of
MT-Bench's turns), and searching for such a short text *anywhere* in training text flags every record that
happens to say "Now make it shorter", so a short evaluation text is matched whole instead: it must make up most
of a training message (or prompt) after normalisation (lower case, words only): the message is that text, or
contains it and is at most twice as long ("Hi! Why is the sky blue?" matches "Why is the sky blue?"). The result
counts, per evaluation set, how many texts each method checked, so a report can say what the check could see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatrecipe.data.text import full_text, ngrams, prompt_text, words


def _normal(text: str) -> str:
    return " ".join(words(text))


def _whole_hit(text: str, whole: dict[str, tuple[str, str]], n: int) -> str | None:
    """The short evaluation text that makes up at least half of `text`, if any (only short texts can)."""
    tokens = words(text)
    if not tokens or len(tokens) >= 2 * n:
        return None
    for size in range(len(tokens), (len(tokens) + 1) // 2 - 1, -1):
        for start in range(len(tokens) - size + 1):
            span = " ".join(tokens[start:start + size])
            if span in whole:
                return span
    return None


def _as_questions(item: dict) -> list[dict]:
    """AlpacaEval's evaluation set, outputs and annotations (an `instruction`, no `turns`) as the question they
    hold, so their instructions are checked; every other row as it is."""
    from chatrecipe.data.eval_formats import to_native
    from chatrecipe.data.schema import RecordError

    try:
        return to_native(item, "question")
    except RecordError:  # a row of another kind (a FastChat answer): its texts are read as they are
        return [item]


def _eval_texts(record: dict) -> list[str]:
    # the whole question and each turn on its own: a training record may repeat one turn of a multi-turn question
    texts = [prompt_text(record) or full_text(record)] + list(record.get("turns") or [])
    return list(dict.fromkeys(t for t in texts if words(t)))


def _training_texts(record: dict) -> list[str]:
    """What a short evaluation text is compared with whole: each message, each prompt, and the prompt joined."""
    texts = [prompt_text(record)]
    for name in ("messages", "prompt"):
        value = record.get(name)
        if isinstance(value, list):
            texts += [m.get("content", "") for m in value if isinstance(m, dict)]
        elif isinstance(value, str):
            texts.append(value)
    texts += list(record.get("turns") or [])
    return texts


@dataclass
class DecontaminationResult:
    """Clean records, one match per contaminated record, and per evaluation set what could be checked."""

    clean: list[dict]
    matches: list[dict]
    sets: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)  # the contaminated records, in the order of `matches`


def decontaminate(records: list[dict], eval_sets: list[list[dict]] | dict[str, list[dict]],
                  n: int = 13) -> DecontaminationResult:
    """Remove training records that contain an n-gram of an evaluation text, or equal a short one.

    Args:
        records: Training records.
        eval_sets: Evaluation records per set: a dict name -> records, or a list (named set-1, set-2, ...).
        n: n-gram length in words.

    Returns:
        A DecontaminationResult. `matches` rows: id, eval_set, eval_id, match (the shared text), how (`ngram` or
        `whole`). `sets` rows: eval_set, items, texts, by_ngram (texts of >= n words), whole (shorter texts,
        matched whole), contaminated (training records it caught).
    """
    named = eval_sets if isinstance(eval_sets, dict) else {f"set-{i + 1}": s for i, s in enumerate(eval_sets)}
    grams: dict[tuple, tuple[str, str]] = {}
    whole: dict[str, tuple[str, str]] = {}
    sets = []
    for name, items in named.items():
        row = {"eval_set": name, "items": len(items), "texts": 0, "by_ngram": 0, "whole": 0, "contaminated": 0}
        for item in (question for raw in items for question in _as_questions(raw)):
            rid = str(item.get("question_id", item.get("id", "?")))
            for text in _eval_texts(item):
                row["texts"] += 1
                found = ngrams(text, n)
                if found:
                    row["by_ngram"] += 1
                    for gram in found:
                        grams.setdefault(gram, (name, rid))
                else:
                    row["whole"] += 1
                    whole.setdefault(_normal(text), (name, rid))
        sets.append(row)
    by_name = {row["eval_set"]: row for row in sets}
    clean, matches, removed = [], [], []
    for position, record in enumerate(records):
        hit = next(((g, grams[g], "ngram") for g in ngrams(full_text(record), n) if g in grams), None)
        if hit is None and whole:
            found = next(filter(None, (_whole_hit(t, whole, n) for t in _training_texts(record))), None)
            hit = (found, whole[found], "whole") if found else None
        if hit is None:
            clean.append(record)
            continue
        text, (name, rid), how = hit
        by_name[name]["contaminated"] += 1
        matches.append({"id": record.get("id", position), "eval_set": name, "eval_id": rid,
                        "match": " ".join(text) if how == "ngram" else text, "how": how})
        removed.append(record)
    return DecontaminationResult(clean, matches, sets, removed)
