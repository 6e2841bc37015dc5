"""Audit the judge itself: position bias, length bias, scoring vs ranking, and agreement with human labels.

Run as: `chatrecipe eval audit --pairwise pairwise.jsonl [--single single.jsonl] [--answers DIR] [--human battles.jsonl]`.

The recipe's warning about GPT-4 as a judge applies to every judge: it prefers the first position, prefers
longer answers, is steadier when grading than when ranking, and agrees with people far less on coding and
math than on brainstorming. These figures come from judgments already made, so they cost no extra calls;
each comes with a 95% Wilson interval so a small demo does not read as a verdict.
"""

from __future__ import annotations

import math
from collections import defaultdict


def wilson(successes: float, n: int, z: float = 1.96) -> dict:
    """Proportion with its Wilson score interval (sound at small n and near 0 or 1)."""
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"value": p, "ci_low": max(0.0, centre - half), "ci_high": min(1.0, centre + half), "n": n}


def position_bias(pairwise: list[dict]) -> dict:
    """Share of decisive verdicts for the answer shown first, and consistency when the order is swapped."""
    from chatrecipe.judge.pairwise import combine_orders

    decisive = [j for j in pairwise if not j.get("error") and j.get("winner") in ("model_a", "model_b")]
    first = sum(1 for j in decisive if (j["winner"] == "model_a") == (j.get("order", "ab") == "ab"))
    valid = [j for j in pairwise if not j.get("error")]
    ties = sum(1 for j in valid if j.get("winner") == "tie")
    _, stats = combine_orders(pairwise)
    return {"first_position_share": wilson(first, len(decisive)),
            "swap_consistency": wilson(stats["consistent"], stats["both_orders"]),
            "tie_share": wilson(ties, len(valid)), "failures": sum(1 for j in pairwise if j.get("error"))}


def _answer_length(answers: dict, model: str, qid, turn: int) -> int | None:
    for record in answers.get(model, []):
        if record["question_id"] == qid and turn <= len(record["turns"]):
            return len(record["turns"][turn - 1])
    return None


def length_bias(pairwise: list[dict], answers: dict[str, list[dict]]) -> dict:
    """Share of decisive verdicts won by the longer answer, and the slope of win probability on length difference."""
    import numpy as np

    points, longer_wins, decisive = [], 0, 0
    for j in pairwise:
        if j.get("error") or j.get("winner") not in ("model_a", "model_b"):
            continue
        la = _answer_length(answers, j["model_a"], j["question_id"], j.get("turn", 1))
        lb = _answer_length(answers, j["model_b"], j["question_id"], j.get("turn", 1))
        if la is None or lb is None or la == lb:
            continue
        decisive += 1
        a_won = j["winner"] == "model_a"
        longer_wins += a_won == (la > lb)
        points.append((math.log((la + 1) / (lb + 1)), 1.0 if a_won else 0.0))
    slope = None
    if len(points) >= 4 and len({y for _, y in points}) == 2:
        from sklearn.linear_model import LogisticRegression

        x = np.array([[p[0]] for p in points])
        y = np.array([p[1] for p in points])
        slope = float(LogisticRegression(C=1e6).fit(x, y).coef_[0][0])
    return {"longer_wins_share": wilson(longer_wins, decisive), "log_length_ratio_slope": slope,
            "points": points}


def scoring_vs_ranking(pairwise: list[dict], single: list[dict]) -> dict:
    """How often the pairwise verdict agrees with comparing the two answers' single grades (ties excluded)."""
    from chatrecipe.judge.pairwise import combine_orders

    grades = {(j["model"], j["question_id"], j.get("turn", 1)): j["score"] for j in single
              if j.get("kind") == "single" and not j.get("error") and j.get("score") is not None}
    combined, _ = combine_orders(pairwise)
    agree = total = 0
    for c in combined:
        if c.get("error") or c["winner"] not in ("model_a", "model_b"):
            continue
        ga = grades.get((c["model_a"], c["question_id"], c.get("turn", 1)))
        gb = grades.get((c["model_b"], c["question_id"], c.get("turn", 1)))
        if ga is None or gb is None or ga == gb:
            continue
        total += 1
        agree += (ga > gb) == (c["winner"] == "model_a")
    return {"agreement": wilson(agree, total)}


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    labels = sorted(set(a) | set(b))
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    expected = sum((a.count(label) / n) * (b.count(label) / n) for label in labels)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def human_agreement(judge_battles: list[dict], human_battles: list[dict]) -> dict:
    """Judge vs human verdicts on the same (question, pair): agreement with and without ties, kappa, per category."""
    def key(b):
        return (b.get("question_id"), *sorted((b["model_a"], b["model_b"])))

    def named(b):
        if b["winner"] in ("model_a", "model_b"):
            return b[b["winner"]]
        return "tie"

    humans = defaultdict(list)
    for b in human_battles:
        humans[key(b)].append(b)
    pairs = [(named(j), named(h), j.get("category") or h.get("category") or "other")
             for j in judge_battles for h in humans.get(key(j), [])]
    judge_labels, human_labels = [p[0] for p in pairs], [p[1] for p in pairs]
    no_ties = [(x, y) for x, y, _ in pairs if x != "tie" and y != "tie"]
    per_category = defaultdict(list)
    for x, y, category in pairs:
        per_category[category].append(x == y)
    return {"agreement_with_ties": wilson(sum(x == y for x, y, _ in pairs), len(pairs)),
            "agreement_without_ties": wilson(sum(x == y for x, y in no_ties), len(no_ties)),
            "cohen_kappa": cohen_kappa(judge_labels, human_labels),
            "per_category": {c: wilson(sum(v), len(v)) for c, v in sorted(per_category.items())}}
