"""Why a generated text is unusable: failed, empty, truncated, repetitive, echoed, or in the wrong language.

Each check returns a short reason (the key it is counted under in `summary.json`) or None. Generators fail in
these ways far more often than people expect, small ones especially; a kept text has passed all of them.
"""

from __future__ import annotations

import re

from chatrecipe.backends.base import ChatResult
from chatrecipe.data.text import words

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
# prose in these categories is mixed with code or formulas, which language identifiers misread
_NO_LANGUAGE_CHECK = {"coding", "math"}


def repetition(text: str, n: int = 3) -> float:
    """Share of repeated word n-grams (0 for varied text, near 1 for a loop of the same phrase)."""
    tokens = words(text)
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def language_of(text: str) -> tuple[str, float] | None:
    """(language code, probability) of the prose in `text`; None when there is too little prose to tell."""
    from langdetect import DetectorFactory, LangDetectException, detect_langs

    DetectorFactory.seed = 0  # langdetect samples; a fixed seed makes the verdict reproducible
    prose = _CODE_BLOCK.sub(" ", text)
    if len(words(prose)) < 8:
        return None
    try:
        best = detect_langs(prose)[0]
    except LangDetectException:
        return None
    return best.lang, best.prob


def text_problem(result: ChatResult, *, language: str | None = None, category: str | None = None,
                 prompt: str | None = None, max_repetition: float = 0.5) -> str | None:
    """The reason a generated text is unusable, or None when it passes every check."""
    if not result.ok:
        return "request failed"
    text = result.text.strip()
    if not text:
        return "empty"
    if result.finish_reason == "length":
        return "truncated"
    if repetition(text) > max_repetition:
        return "repetitive"
    if prompt is not None and " ".join(words(text)) == " ".join(words(prompt)):
        return "echoes the prompt"
    if language and category not in _NO_LANGUAGE_CHECK:
        found = language_of(text)
        if found is not None and not found[0].startswith(language) and found[1] > 0.8:
            return "wrong language"
    return None
