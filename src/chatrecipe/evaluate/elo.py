"""Elo and Bradley-Terry leaderboards from battles (Chatbot Arena format), with bootstrap intervals.

Run as: `chatrecipe eval elo battles.jsonl [--bootstrap 1000] [--json]`.

Bradley-Terry is fitted by maximum likelihood on the matrix of pair counts (Newton's method), not battle by battle:
the ratings are the same as a logistic regression on every battle, and a bootstrap resamples the counts
(multinomially) instead of the rows — hundreds of times faster on large battle files (PERFORMANCE-NOTES). Ties
count as half a win for each side ("tie allowed") or are dropped ("no tie"), and both tables are reported, as
the recipe shows them.
"""

from __future__ import annotations

import math

import numpy as np

BASE, SCALE, INIT = 10.0, 400.0, 1000.0
WINNERS = {"model_a", "model_b", "tie", "tie (bothbad)"}


class BattleError(ValueError):
    """Battles that cannot be rated (one model, disconnected comparisons, unknown labels); says which."""


def battles_from_judgments(judgments: list[dict], questions: list[dict] | None = None) -> list[dict]:
    """One battle per combined pairwise verdict (both orders merged); failed verdicts are left out."""
    from chatrecipe.judge.pairwise import combine_orders

    categories = {q["question_id"]: q.get("category") for q in questions or []}
    combined, _ = combine_orders([j for j in judgments if j.get("kind", "pairwise") == "pairwise"])
    return [{"model_a": c["model_a"], "model_b": c["model_b"], "winner": c["winner"],
             "question_id": c["question_id"], "category": categories.get(c["question_id"], c.get("category")),
             "judge": c.get("judge"), "turn": c.get("turn")} for c in combined if not c["error"]]


def outcome_table(battles: list[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Models, strict wins W (W[i, j]: i beat j) and ties T (upper triangle) counted over the battles."""
    unknown = sorted({str(b.get("winner")) for b in battles if b.get("winner") not in WINNERS})
    if unknown:
        raise BattleError(f"unknown winner label(s) {', '.join(unknown)}; use model_a, model_b, tie, tie (bothbad)")
    models = sorted({b["model_a"] for b in battles} | {b["model_b"] for b in battles})
    if len(models) < 2:
        raise BattleError(f"battles name only {models}: a rating needs at least two models")
    index = {m: i for i, m in enumerate(models)}
    wins, ties = np.zeros((len(models), len(models))), np.zeros((len(models), len(models)))
    for b in battles:
        a, c = index[b["model_a"]], index[b["model_b"]]
        if b["winner"] == "model_a":
            wins[a, c] += 1
        elif b["winner"] == "model_b":
            wins[c, a] += 1
        else:
            ties[min(a, c), max(a, c)] += 1
    return models, wins, ties


def _with_ties(wins: np.ndarray, ties: np.ndarray, mode: str) -> np.ndarray:
    return wins + 0.5 * (ties + ties.T) if mode == "allowed" else wins


def pair_counts(battles: list[dict], ties: str = "allowed") -> tuple[list[str], np.ndarray]:
    """Models and the matrix W where W[i, j] is how often i beat j (ties as half each, or dropped)."""
    models, wins, tie_counts = outcome_table(battles)
    return models, _with_ties(wins, tie_counts, ties)


def components(models: list[str], wins: np.ndarray) -> list[list[str]]:
    """Connected components of the comparison graph (models linked by at least one counted battle)."""
    games = wins + wins.T
    seen, parts = set(), []
    for start in range(len(models)):
        if start in seen:
            continue
        stack, part = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            part.append(models[node])
            for other in np.nonzero(games[node])[0]:
                if other not in seen:
                    seen.add(int(other))
                    stack.append(int(other))
        parts.append(sorted(part))
    return parts


def _log_likelihood(theta: np.ndarray, wins: np.ndarray) -> float:
    diff = theta[:, None] - theta[None, :]
    return float((wins * -np.logaddexp(0.0, -diff)).sum())


def fit_bradley_terry(wins: np.ndarray, iterations: int = 100, tol: float = 1e-10, prior: float = 0.0) -> np.ndarray:
    """Maximum-likelihood log-strengths by Newton's method on the pair-count matrix; mean log-strength is 0.

    The log-likelihood of Bradley-Terry is concave, so Newton with step halving converges in a handful of
    iterations on an n x n problem, whatever the number of battles. `prior` adds that many virtual ties against
    every other model — zero for the exact maximum likelihood; a little keeps ratings finite in bootstrap
    samples where a model happens to win or lose everything.
    """
    n = len(wins)
    w = wins + prior * 0.5 * (1 - np.eye(n))
    games = w + w.T
    theta = np.zeros(n)
    current = _log_likelihood(theta, w)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        gradient = w.sum(axis=1) - (games * p).sum(axis=1)
        q = games * p * (1 - p)
        hessian = q - np.diag(q.sum(axis=1))
        # the likelihood only sees differences: pin the last strength and solve for the others
        try:
            step = np.linalg.solve(hessian[:-1, :-1], -gradient[:-1])
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hessian[:-1, :-1], -gradient[:-1], rcond=None)[0]
        scale = 1.0
        while scale > 1e-6:
            candidate = theta.copy()
            candidate[:-1] += scale * step
            value = _log_likelihood(candidate, w)
            if value >= current - 1e-12:
                break
            scale /= 2
        theta, previous, current = candidate, current, value
        if np.max(np.abs(scale * step)) < tol or abs(current - previous) < tol * max(1.0, abs(current)):
            break
    return theta - theta.mean()


def to_elo(log_strength: np.ndarray, models: list[str], anchor: str | None = None) -> dict[str, float]:
    """Log-strengths on the Elo scale (base 10, scale 400), anchored so `anchor` (or the mean) sits at 1000."""
    elo = SCALE / math.log(BASE) * log_strength
    offset = elo[models.index(anchor)] if anchor else elo.mean()
    return {m: float(INIT + e - offset) for m, e in zip(models, elo)}


def bradley_terry(battles: list[dict], ties: str = "allowed", anchor: str | None = None) -> dict[str, float]:
    """Maximum-likelihood Bradley-Terry ratings on the Elo scale; refuses a disconnected comparison graph."""
    models, wins = pair_counts(battles, ties)
    parts = components(models, wins)
    if len(parts) > 1:
        raise BattleError("the comparison graph is disconnected, so these groups cannot be placed on one scale: "
                          + " | ".join(", ".join(p) for p in parts) + "; rate each group separately or add battles "
                          "between them")
    return to_elo(fit_bradley_terry(wins), models, anchor)


def online_elo(battles: list[dict], k: float = 4.0, init: float = INIT) -> dict[str, float]:
    """Sequential Elo updates in battle order (the Chatbot Arena notebook's defaults: K=4, base 10, scale 400)."""
    ratings: dict[str, float] = {}
    for b in battles:
        a, c = b["model_a"], b["model_b"]
        ra, rc = ratings.setdefault(a, init), ratings.setdefault(c, init)
        expected_a = 1 / (1 + BASE ** ((rc - ra) / SCALE))
        score_a = {"model_a": 1.0, "model_b": 0.0}.get(b["winner"], 0.5)
        ratings[a] = ra + k * (score_a - expected_a)
        ratings[c] = rc + k * ((1 - score_a) - (1 - expected_a))
    return ratings


def bootstrap_ratings(battles: list[dict], rounds: int = 1000, ties: str = "allowed", seed: int = 0,
                      anchor: str | None = None) -> dict[str, dict]:
    """Ratings with 95% intervals: each round resamples the battles (as multinomial outcome counts) and refits."""
    models, wins, tie_counts = outcome_table(battles)
    point = to_elo(fit_bradley_terry(_with_ties(wins, tie_counts, ties)), models, anchor)
    n = len(models)
    # resampling battles with replacement = one multinomial draw over the cells of the outcome table
    cells = np.concatenate([wins.ravel(), tie_counts.ravel()])
    total = int(cells.sum())
    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, n))
    for r in range(rounds):
        draw = rng.multinomial(total, cells / total).astype(float)
        sample = _with_ties(draw[:n * n].reshape(n, n), draw[n * n:].reshape(n, n), ties)
        elo = to_elo(fit_bradley_terry(sample, tol=1e-8, prior=0.01), models, anchor)
        samples[r] = [elo[m] for m in models]
    low, high = np.quantile(samples, [0.025, 0.975], axis=0)
    return {m: {"value": point[m], "ci_low": float(low[i]), "ci_high": float(high[i])} for i, m in enumerate(models)}


def win_matrices(battles: list[dict], ratings: dict[str, float]) -> dict:
    """Observed pairwise win rates (ties half) and those Bradley-Terry predicts from the ratings."""
    models, wins = pair_counts(battles, "allowed")
    games = wins + wins.T
    observed = np.where(games > 0, wins / np.maximum(games, 1e-12), np.nan)
    r = np.array([ratings[m] for m in models])
    predicted = 1 / (1 + BASE ** ((r[None, :] - r[:, None]) / SCALE))
    np.fill_diagonal(predicted, np.nan)
    return {"models": models, "observed": observed.tolist(), "predicted": predicted.tolist(),
            "battles": games.astype(int).tolist()}


def leaderboard(battles: list[dict], bootstrap: int = 1000, seed: int = 0, anchor: str | None = None) -> dict:
    """Both tables (tie allowed, no tie) with intervals, battle counts, online Elo and the win-rate matrices."""
    counts: dict[str, int] = {}
    for b in battles:
        for m in (b["model_a"], b["model_b"]):
            counts[m] = counts.get(m, 0) + 1
    result = {"battles": len(battles), "battle_counts": counts, "bootstrap": bootstrap, "anchor": anchor}
    for ties in ("allowed", "none"):
        usable = battles if ties == "allowed" else [b for b in battles if b["winner"] in ("model_a", "model_b")]
        if not usable:
            result[f"tie_{ties}"] = {"error": "no decisive battles: every battle was a tie"}
            continue
        try:
            bradley_terry(usable, ties, anchor)  # refuses one model / disconnected graphs with a clear message
            result[f"tie_{ties}"] = bootstrap_ratings(usable, bootstrap, ties, seed, anchor)
        except BattleError as exc:
            result[f"tie_{ties}"] = {"error": str(exc)}
    result["online_elo"] = online_elo(battles)
    if "error" not in result["tie_allowed"]:
        result["matrices"] = win_matrices(battles, {m: v["value"] for m, v in result["tie_allowed"].items()})
    return result
