"""The self-instruct novelty filter: a new instruction joins the pool only if it is not too like any pooled one.

ROUGE-L F1 from the `rouge-score` package, as in self-instruct and Alpaca. Pooled instructions are tokenised
once, and the LCS is computed on token lists with the same `rouge_scorer._score_lcs` Alpaca's generator calls.
The LCS is quadratic in pure Python, so it is skipped where it cannot matter: the LCS of two texts is at most
their shared words (as multisets), which bounds the F1 from above at linear cost; a pooled text whose bound
does not beat the best score so far cannot change the maximum. The result is exactly rouge-score's maximum.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


@dataclass
class RougePool:
    """Instructions seen so far, tokenised once; `add` admits or rejects a candidate against all of them."""

    threshold: float = 0.7
    texts: list[str] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    bags: list[Counter] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # each candidate's highest similarity, for the report

    def __post_init__(self):
        self._tokenizer = _scorer()._tokenizer

    def nearest(self, text: str) -> tuple[float, str | None]:
        """(highest ROUGE-L F1 to the pool, the pooled text it belongs to)."""
        from rouge_score.rouge_scorer import _score_lcs

        candidate = self._tokenizer.tokenize(text)
        bag, size = Counter(candidate), len(candidate)
        best, best_text = 0.0, None
        for pooled, pooled_bag, pooled_text in zip(self.tokens, self.bags, self.texts):
            shared = sum((bag & pooled_bag).values())
            if not shared or 2 * shared / (size + len(pooled)) <= best:
                continue  # the F1 bound from shared words cannot beat the best so far
            score = _score_lcs(pooled, candidate).fmeasure
            if score > best:
                best, best_text = score, pooled_text
        return best, best_text

    def extend(self, texts: list[str]) -> None:
        """Pool texts without checking them (the seed tasks)."""
        tokens = [self._tokenizer.tokenize(t) for t in texts]
        self.texts += texts
        self.tokens += tokens
        self.bags += [Counter(t) for t in tokens]

    def add(self, text: str) -> tuple[bool, float, str | None]:
        """Admit `text` when its highest similarity is below the threshold; returns (admitted, score, nearest)."""
        score, nearest = self.nearest(text)
        self.scores.append(score)
        if score >= self.threshold:
            return False, score, nearest
        self.extend([text])
        return True, score, nearest


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F1 of two texts (the reference computation the pool must agree with)."""
    return _scorer().score(a, b)["rougeL"].fmeasure
