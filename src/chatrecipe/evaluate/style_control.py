"""Style-controlled Bradley-Terry ratings (Chatbot Arena's "style control"): length and markdown as covariates.

Run as: `chatrecipe eval elo battles.jsonl --style-control [--bootstrap 100]`.

A judge, human or model, that prefers longer and more formatted answers lifts the models that write them: the
recipe's "longer answers win". FastChat's contextual Bradley-Terry model (fastchat/serve/monitor/
rating_systems.py: preprocess_for_style, fit_contextual_bt) explains each verdict by the two ratings and the
difference of the two answers' style:

    P(a beats b) = sigmoid(ln 10 * (r_a - r_b) + sum_k beta_k * f_k)

f_k is feature k's normalised difference (a - b) / (a + b + 1) (tokens, headers, list items, bold spans; see
evaluate/style_features.py), standardised over the battles. The rating is what remains once style is accounted
for; beta_k says what one standard deviation of relative style is worth, shown in Elo (400 / ln 10 * beta_k).

The objective is FastChat's: cross-entropy over battles with a tie as outcome 0.5, plus (reg / 2) * ||params||^2
on ratings and coefficients alike, reg = 0.5 (LogisticRegression's C = 1 on the notebook's duplicated rows).
FastChat runs L-BFGS-B (100 iterations, gtol 1e-6), which stops a little short of the optimum; here Newton's
method with the exact Hessian, assembled from per-pair sums (one bincount per term), reaches it to 1e-10 in
4-8 iterations, started from the plain ratings. The bootstrap resamples battles with replacement (rows, as
compute_bootstrap_style_control does), seeded, written as per-battle counts; each round is refitted by chord
steps on the point fit's Hessian. The features keep the standardisation of the full set, as in FastChat.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.lapack import dposv

from chatrecipe.evaluate.battles import BattleError, BattleTable, battle_table
from chatrecipe.evaluate.elo import SCALE, bootstrap_ratings, elo_scale, one_blas_thread, ratable
from chatrecipe.evaluate.style_features import FEATURES, LABELS, style_counts

REG = 0.5
ALPHA = math.log(10.0)
ELO_PER_LOGIT = SCALE / ALPHA  # 173.7: a logit of 1 is worth this many Elo
RESAMPLING = ("row resampling: each round draws as many battles as there are, with replacement (FastChat's "
              "compute_bootstrap_style_control), as counts per battle; seeded")


def style_features(counts: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Standardised normalised differences (battles x features) and, per feature, the spread they were scaled by.

    A feature with no spread (no answer in these battles has a header, say) carries no information and would
    divide by zero: its column is zero, so the penalty keeps its coefficient at 0, and it is marked `constant`.
    """
    a, b = counts[:, 0, :], counts[:, 1, :]
    diff = (a - b) / (a + b + 1.0)
    mean, spread = diff.mean(axis=0), diff.std(axis=0)
    constant = ~(spread > 1e-12)
    features = (diff - mean) / np.where(constant, 1.0, spread)
    features[:, constant] = 0.0
    info = [{"feature": f, "label": LABELS[f], "mean": float(m), "sd": float(s), "constant": bool(c)}
            for f, m, s, c in zip(FEATURES, mean, spread, constant)]
    return np.ascontiguousarray(features), info


class ContextualBT:
    """One fit's battles as arrays, and the penalised objective's value and exact derivatives at given parameters.

    Parameters are the n ratings (base-10 units) then the k style coefficients (logit per standard deviation).
    Every derivative a model takes part in is a sum over its battles, gathered per (model_a, model_b) cell with
    one bincount, so an iteration costs a few passes over the battles however many models there are.
    """

    def __init__(self, table: BattleTable, features: np.ndarray, reg: float = REG, alpha: float = ALPHA):
        self.n, self.k = len(table.models), features.shape[1]
        self.pair = table.a * self.n + table.b
        # one contiguous row per feature: the products below are then single BLAS passes (on one thread)
        self.columns = np.ascontiguousarray(np.asarray(features, dtype=float).T)
        self.outcome, self.reg, self.alpha = table.score, reg, alpha

    def logits(self, theta: np.ndarray) -> np.ndarray:
        ratings, beta = theta[:self.n], theta[self.n:]
        z = self.alpha * (ratings[:, None] - ratings[None, :]).ravel()[self.pair]
        if self.k:
            z += beta @ self.columns
        return z

    def loss_and_probability(self, theta: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        z = self.logits(theta)
        # softplus and sigmoid from exp(-|z|): never overflows, one transcendental pass for both
        e = np.exp(-np.abs(z))
        softplus = np.maximum(z, 0.0) + np.log1p(e)
        p = 1.0 / (1.0 + e)
        p = np.where(z >= 0, p, 1.0 - p)
        loss = float(weights @ (softplus - self.outcome * z)) + 0.5 * self.reg * float(theta @ theta)
        return loss, p

    def probability(self, theta: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(theta)))

    def gradient(self, theta: np.ndarray, weights: np.ndarray, p: np.ndarray) -> np.ndarray:
        g = weights * (p - self.outcome)  # d loss / d logit, per battle
        per_pair = np.bincount(self.pair, g, self.n * self.n).reshape(self.n, self.n)
        return np.concatenate([self.alpha * (per_pair.sum(axis=1) - per_pair.sum(axis=0)),
                               self.columns @ g]) + self.reg * theta

    def hessian(self, weights: np.ndarray, p: np.ndarray) -> np.ndarray:
        n, k, cells = self.n, self.k, self.n * self.n
        h = weights * p * (1.0 - p)  # d2 loss / d logit2, per battle
        hessian = np.empty((n + k, n + k))
        curvature = np.bincount(self.pair, h, cells).reshape(n, n)
        both = curvature + curvature.T
        hessian[:n, :n] = self.alpha ** 2 * (np.diag(both.sum(axis=1)) - both)
        weighted = self.columns * h
        for j in range(k):
            cross = np.bincount(self.pair, weighted[j], cells).reshape(n, n)
            hessian[:n, n + j] = self.alpha * (cross.sum(axis=1) - cross.sum(axis=0))
        hessian[n:, :n] = hessian[:n, n:].T
        hessian[n:, n:] = weighted @ self.columns.T
        hessian[np.diag_indices(n + k)] += self.reg
        return hessian

    def newton(self, theta: np.ndarray, weights: np.ndarray, tol: float = 1e-10,
               iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """The minimiser and the Hessian there. Newton's method on a strictly convex objective (the penalty makes
        it so): each step solves the exact Hessian by Cholesky, step halving (Armijo) guards the first steps from a
        cold start, and the last step is taken once it is below `tol`."""
        loss, p = self.loss_and_probability(theta, weights)
        for _ in range(iterations):
            gradient, hessian = self.gradient(theta, weights, p), self.hessian(weights, p)
            _, step, failed = dposv(hessian, -gradient)
            if failed:  # cannot happen with reg > 0; kept so that a zero penalty on degenerate data fails clearly
                raise BattleError("the style-controlled fit has no unique solution; use a positive regularisation")
            if np.max(np.abs(step)) < tol:
                return theta + step, hessian
            slope, scale = float(gradient @ step), 1.0
            while True:
                candidate = theta + scale * step
                value, p_candidate = self.loss_and_probability(candidate, weights)
                # sufficient decrease, with room for rounding in a sum over a million battles
                if value <= loss + 1e-4 * scale * slope + 1e-12 * abs(loss) or scale < 1e-8:
                    break
                scale /= 2
            theta, loss, p = candidate, value, p_candidate
        return theta, self.hessian(weights, p)

    def refit(self, start: np.ndarray, factor, weights: np.ndarray, tol: float = 1e-5) -> np.ndarray:
        """A bootstrap round's minimiser from the point fit, by chord iterations on the point fit's Hessian.

        A resample's Hessian is the point fit's within a few percent (the weights average 1), so each chord step
        shrinks the error some tenfold at a third of a Newton step's cost (no Hessian, no loss); `tol` 1e-5 is
        0.004 Elo, far inside any interval. Should the steps stop shrinking (tiny or lopsided data), Newton's
        method finishes from where they got to.
        """
        theta, previous = start.copy(), math.inf
        for _ in range(50):
            step = -cho_solve(factor, self.gradient(theta, weights, self.probability(theta)), check_finite=False)
            size = float(np.max(np.abs(step)))
            if size > 0.5 * previous:
                break
            theta += step
            if size < tol:
                return theta
            previous = size
        return self.newton(theta, weights, tol)[0]


def fit_contextual_bt(table: BattleTable, features: np.ndarray, weights: np.ndarray | None = None, reg: float = REG,
                      alpha: float = ALPHA, start: np.ndarray | None = None, tol: float = 1e-10) -> np.ndarray:
    """Ratings (base-10 units, mean 0 by the penalty) then style coefficients: FastChat's fit_contextual_bt
    objective, minimised exactly. `weights` are per-battle counts (a bootstrap round); `start` a first guess."""
    problem = ContextualBT(table, features, reg, alpha)
    weights = np.ones(len(table)) if weights is None else np.asarray(weights, dtype=float)
    theta = np.zeros(problem.n + problem.k) if start is None else np.array(start, dtype=float)
    return problem.newton(theta, weights, tol)[0]


def _interval(point: np.ndarray, samples: np.ndarray | None) -> list[tuple[float, float | None, float | None]]:
    if samples is None:
        return [(float(v), None, None) for v in point]
    low, high = np.quantile(samples, [0.025, 0.975], axis=0)
    return [(float(v), float(lo), float(hi)) for v, lo, hi in zip(point, low, high)]


def _ranks(ratings: dict[str, dict]) -> dict[str, int]:
    order = sorted(ratings, key=lambda m: (-ratings[m]["value"], m))
    return {m: i + 1 for i, m in enumerate(order)}


def _coefficient(info: dict, value: float, low: float | None, high: float | None) -> dict:
    label = info["label"]
    if info["constant"]:
        return {**info, "logit": None, "elo": None, "ci_low": None, "ci_high": None,
                "text": f"{label}: the same in every battle here, so its effect cannot be estimated"}
    elo = ELO_PER_LOGIT * value
    interval = "" if low is None else f" [{ELO_PER_LOGIT * low:+.1f}, {ELO_PER_LOGIT * high:+.1f}]"
    return {**info, "logit": float(value), "elo": float(elo),
            "ci_low": None if low is None else float(ELO_PER_LOGIT * low),
            "ci_high": None if high is None else float(ELO_PER_LOGIT * high),
            "text": f"+1 standard deviation of relative {label} ({info['sd']:.3f} in (a - b) / (a + b + 1)) is "
                    f"worth {elo:+.1f} Elo{interval}"}


def style_control(battles: list[dict], bootstrap: int = 100, seed: int = 0, reg: float = REG,
                  anchor: str | None = None, answers: dict | list | None = None, tokenizer: str | None = None,
                  skip_missing: bool = False, plain: dict | None = None) -> dict:
    """Style-controlled and plain ratings side by side, with intervals, the style coefficients and rank changes.

    The style counts come from each battle's metadata, conversations or `answers` (style_features.style_counts).
    Battles without features raise StyleFeatureError, or with `skip_missing` are left out of both fits and
    listed in `excluded`. `bootstrap` 0 gives point values (intervals None). `plain`: the tie-allowed ratings
    `leaderboard` already made of these battles with the same rounds, seed and anchor, used as they are when no
    battle is left out (the same bootstrap, not run twice).
    """
    counts, keep, excluded = style_counts(battles, answers, tokenizer, skip_missing)
    battles = [b for b, k in zip(battles, keep) if k] if excluded else battles
    counts = counts[keep]
    table = ratable(battle_table(battles))
    features, info = style_features(np.asarray(counts, dtype=float))
    n = len(table.models)
    samples = None
    problem = ContextualBT(table, features, reg)
    if plain is None or excluded or "error" in plain:
        plain = bootstrap_ratings(table, bootstrap, "allowed", seed, anchor)
    # the plain ratings (no style, no penalty) are a far better first guess than zeros: fewer Newton steps
    plain_elo = np.array([plain[m]["value"] for m in table.models])
    start = np.concatenate([np.clip((plain_elo - plain_elo.mean()) / SCALE, -5, 5), np.zeros(problem.k)])
    with one_blas_thread():
        theta, hessian = problem.newton(start, np.ones(len(table)))
        if bootstrap > 0:
            factor = cho_factor(hessian, check_finite=False)
            rng = np.random.default_rng(seed)
            samples = np.empty((bootstrap, len(theta)))
            for r in range(bootstrap):
                weights = np.bincount(rng.integers(0, len(table), len(table)), minlength=len(table))
                samples[r] = problem.refit(theta, factor, weights.astype(float))
    ratings = elo_scale(ALPHA * theta[:n], table.models, anchor)
    rating_samples = None if samples is None else elo_scale(ALPHA * samples[:, :n], table.models, anchor)
    styled = {m: {"value": v, "ci_low": lo, "ci_high": hi}
              for m, (v, lo, hi) in zip(table.models, _interval(ratings, rating_samples))}
    coefficients = [_coefficient(f, *interval) for f, interval in
                    zip(info, _interval(theta[n:], None if samples is None else samples[:, n:]))]
    plain_rank, style_rank = _ranks(plain), _ranks(styled)
    ranks = {m: {"plain": plain_rank[m], "style": style_rank[m], "change": plain_rank[m] - style_rank[m]}
             for m in table.models}
    return {"battles": len(table), "models": table.models, "style_controlled": styled, "plain": plain,
            "coefficients": coefficients, "ranks": ranks,
            "rank_changes": sorted((m for m in ranks if ranks[m]["change"]), key=lambda m: style_rank[m]),
            "excluded": excluded, "regularisation": reg,
            "bootstrap": {"rounds": bootstrap, "seed": seed, "method": RESAMPLING if bootstrap > 0 else None,
                          "plain_method": "multinomial over the outcome table (the same as row resampling for "
                                          "the plain model)" if bootstrap > 0 else None}}
