"""Bradley-Terry at Arena scale: 1,000 bootstrap rounds on 1,000,000 battles among 100 models.

Run as: `python benchmarks/bench_ratings.py [--battles 1000000] [--models 100] [--rounds 1000]`.

Prints, measured side by side in one run: chatrecipe's pair-count fit and multinomial bootstrap, against the
Chatbot Arena notebook's row-wise logistic regression (one row per battle) on the same battles, the ratio of
the two per fit, and the largest rating difference between them (they fit the same likelihood).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from chatrecipe.evaluate.elo import bootstrap_ratings, fit_bradley_terry, outcome_table, to_elo


def synthetic_battles(n_battles: int, n_models: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(n_battles)
    winner = np.where(u < p * 0.9, "model_a", np.where(u < 0.9, "model_b", "tie"))
    names = [f"m{i:03d}" for i in range(n_models)]
    return [{"model_a": names[i], "model_b": names[j], "winner": w} for i, j, w in zip(a, b, winner)]


def logistic_regression_fit(battles: list[dict], models: list[str]) -> dict:
    """The Arena notebook's method, battle by battle: a tie is two half-weighted rows (one win each way)."""
    from sklearn.linear_model import LogisticRegression

    index = {m: i for i, m in enumerate(models)}
    rows, labels, weights = [], [], []
    for battle in battles:
        ia, ib = index[battle["model_a"]], index[battle["model_b"]]
        outcomes = [1, 0] if battle["winner"] == "tie" else [1 if battle["winner"] == "model_a" else 0]
        for y in outcomes:
            rows.append((ia, ib))
            labels.append(y)
            weights.append(0.5 if battle["winner"] == "tie" else 1.0)  # a tie is half a win for each side
    x = np.zeros((len(rows), len(models)))
    pairs = np.array(rows)
    x[np.arange(len(rows)), pairs[:, 0]] = math.log(10)
    x[np.arange(len(rows)), pairs[:, 1]] = -math.log(10)
    fit = LogisticRegression(fit_intercept=False, C=1e6, tol=1e-8, max_iter=1000).fit(x, labels, sample_weight=weights)
    elo = 400 * fit.coef_[0]
    return dict(zip(models, 1000 + elo - elo.mean()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--lr-battles", type=int, default=200_000, help="battles for the row-wise fit "
                        "(its time is scaled linearly to the full set; a full fit needs ~10 GB)")
    args = parser.parse_args()
    battles = synthetic_battles(args.battles, args.models)
    started = time.perf_counter()
    models, wins, ties = outcome_table(battles)
    aggregate = time.perf_counter() - started
    started = time.perf_counter()
    point = to_elo(fit_bradley_terry(wins + 0.5 * (ties + ties.T)), models)
    one_fit = time.perf_counter() - started
    started = time.perf_counter()
    bootstrap_ratings(battles, rounds=args.rounds)
    boot = time.perf_counter() - started
    subset = battles[:args.lr_battles]
    started = time.perf_counter()
    reference = logistic_regression_fit(subset, models)
    lr_fit = (time.perf_counter() - started) * args.battles / len(subset)
    sub_models, sub_wins, sub_ties = outcome_table(subset)
    ours_subset = to_elo(fit_bradley_terry(sub_wins + 0.5 * (sub_ties + sub_ties.T)), sub_models)
    gap = max(abs(ours_subset[m] - reference[m]) for m in sub_models)
    print(f"battles {args.battles:,} among {args.models} models; {args.rounds} bootstrap rounds")
    print(f"aggregate to pair counts        {aggregate:8.2f} s (once)")
    print(f"pair-count fit (Newton)         {one_fit * 1000:8.1f} ms per fit")
    print(f"bootstrap, {args.rounds} rounds        {boot:8.2f} s   (goal <= 30 s)")
    print(f"row-wise logistic regression    {lr_fit:8.2f} s per fit (scaled from {len(subset):,} battles)")
    print(f"ratio per fit (row-wise / ours) {lr_fit / one_fit:8.0f}x")
    print(f"row-wise bootstrap would take   {lr_fit * args.rounds / 3600:8.1f} h; ratio {lr_fit * args.rounds / boot:.0f}x")
    print(f"max |rating difference| on the same {len(subset):,} battles: {gap:.4f} Elo")
    assert max(point.values()) > 1000


if __name__ == "__main__":
    main()
