"""`eval elo` end to end at Arena scale, plain and style-controlled: 1,000,000 battles among 100 models.

Run as: `python benchmarks/bench_style_control.py [--battles 1000000] [--models 100] [--rounds 1000]
[--style-rounds 100] [--reference-battles 200000]`.

Writes two battle files (plain records, and records with Arena's conv_metadata), then times, measured side by
side in one run: reading and building the table, the plain leaderboard with its bootstrap (both tie tables,
online Elo, win matrices: what `eval elo` computes), the style features read from the metadata, the
style-controlled fit and its bootstrap. For the fit, FastChat's published method (row-wise loss, L-BFGS-B at
its defaults: 100 iterations, gtol 1e-6; written here from the algorithm, not copied) runs on the same battles
as a reference: its time per fit, and the largest difference to our Newton fit. The simulated battles have a
known length effect, so the run also prints how far plain and style-controlled ratings are from the truth.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from chatrecipe.evaluate.battles import battle_table, read_battles
from chatrecipe.evaluate.elo import bootstrap_ratings, elo_scale, leaderboard, one_blas_thread
from chatrecipe.evaluate.style_control import ALPHA, REG, fit_contextual_bt, style_control, style_features
from chatrecipe.evaluate.style_features import style_counts

LENGTH_EFFECT = 0.4  # logit per standard deviation of relative length, the simulated judge's taste


def simulate(n_battles: int, n_models: int, seed: int = 0) -> tuple[dict, list[str], np.ndarray]:
    """Columns of battles whose verdicts follow known skills plus a known preference for the longer answer."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(0, 0.6, n_models)  # base-10 log-strengths: 400 * skill is Elo
    typical_length = rng.lognormal(6, 0.5, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    tokens = [rng.poisson(typical_length[side] * rng.lognormal(0, 0.3, n_battles)) for side in (a, b)]
    markdown = [[rng.poisson(rate, n_battles) for rate in (1.0, 3.0, 2.0)] for _ in (a, b)]
    diff = (tokens[0] - tokens[1]) / (tokens[0] + tokens[1] + 1.0)
    logit = ALPHA * (skill[a] - skill[b]) + LENGTH_EFFECT * (diff - diff.mean()) / diff.std()
    u = rng.random(n_battles)
    p = 1 / (1 + np.exp(-logit))
    winner = np.where(u < 0.1, "tie", np.where(rng.random(n_battles) < p, "model_a", "model_b"))
    names = [f"m{i:03d}" for i in range(n_models)]
    columns = {"a": a, "b": b, "winner": winner, "tokens": tokens, "markdown": markdown}
    return columns, names, skill


def write_files(columns: dict, names: list[str], folder: Path) -> tuple[Path, Path]:
    """The plain file (model_a, model_b, winner) and the Arena-shaped one with conv_metadata."""
    dumps = json.dumps
    plain, styled = folder / "battles.jsonl", folder / "battles_metadata.jsonl"
    with open(plain, "w") as p_out, open(styled, "w") as s_out:
        (ta, tb), ((ha, la, ba), (hb, lb, bb)) = columns["tokens"], columns["markdown"]
        for i, (x, y, w) in enumerate(zip(columns["a"].tolist(), columns["b"].tolist(), columns["winner"].tolist())):
            record = {"model_a": names[x], "model_b": names[y], "winner": w}
            p_out.write(dumps(record) + "\n")
            record["conv_metadata"] = {
                "sum_assistant_a_tokens": int(ta[i]), "sum_assistant_b_tokens": int(tb[i]),
                "header_count_a": {"h1": int(ha[i]), "h2": 0, "h3": 0}, "header_count_b": {"h1": int(hb[i]),
                                                                                             "h2": 0, "h3": 0},
                "list_count_a": {"ordered": int(la[i]), "unordered": 0}, "list_count_b": {"ordered": int(lb[i]),
                                                                                           "unordered": 0},
                "bold_count_a": {"**": int(ba[i]), "__": 0}, "bold_count_b": {"**": int(bb[i]), "__": 0}}
            s_out.write(dumps(record) + "\n")
    return plain, styled


def fastchat_style_fit(table, features, reg: float = REG) -> tuple[np.ndarray, float]:
    """FastChat's published fit: the row-wise penalised loss and its gradient, minimised by L-BFGS-B."""
    from scipy.optimize import minimize

    n = len(table.models)
    outcome = table.score

    def loss_and_gradient(params):
        ratings, beta = params[:n], params[n:]
        logits = ALPHA * (ratings[table.a] - ratings[table.b]) + features @ beta
        probs = 1 / (1 + np.exp(-logits))
        loss = -(np.log(probs) * outcome + np.log(1 - probs) * (1 - outcome)).sum() + reg / 2 * params @ params
        error = outcome - probs
        gradient = reg * params
        np.add.at(gradient, table.a, -ALPHA * error)
        np.add.at(gradient, table.b, ALPHA * error)
        gradient[n:] -= features.T @ error
        return loss, gradient

    started = time.perf_counter()
    result = minimize(loss_and_gradient, np.zeros(n + features.shape[1]), jac=True, method="L-BFGS-B",
                      options={"maxiter": 100, "gtol": 1e-6})
    return result.x, time.perf_counter() - started


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds of the plain leaderboard")
    parser.add_argument("--style-rounds", type=int, default=100, help="bootstrap rounds of the style-controlled fit")
    parser.add_argument("--reference-battles", type=int, default=200_000,
                        help="battles for FastChat's L-BFGS-B fit (its time is scaled linearly to the full set)")
    args = parser.parse_args()
    columns, names, skill = simulate(args.battles, args.models)
    with tempfile.TemporaryDirectory() as folder:
        plain_file, style_file = write_files(columns, names, Path(folder))
        rows, read_plain = timed(read_battles, plain_file)
        table, build = timed(battle_table, rows)
        board, plain_board = timed(leaderboard, table, bootstrap=args.rounds)
        del rows
        styled_rows, read_styled = timed(read_battles, style_file)
    (counts, _, _), extract = timed(style_counts, styled_rows)
    styled_table = battle_table(styled_rows)
    del styled_rows
    features, _ = style_features(counts)
    with one_blas_thread():
        theta, style_fit = timed(fit_contextual_bt, styled_table, features)
    result, style_total = timed(style_control, styled_table, counts=counts, bootstrap=args.style_rounds)
    _, plain_rounds = timed(bootstrap_ratings, styled_table, args.style_rounds)
    subset = np.arange(min(args.reference_battles, len(styled_table)))
    sub_table = type(styled_table)(styled_table.models, styled_table.a[subset], styled_table.b[subset],
                                   styled_table.code[subset])
    with one_blas_thread():
        reference, reference_time = fastchat_style_fit(sub_table, features[subset])
        ours_subset = fit_contextual_bt(sub_table, features[subset])
    n = args.models
    gap_elo = np.max(np.abs(elo_scale(ALPHA * reference[:n], names) - elo_scale(ALPHA * ours_subset[:n], names)))
    gap_coef = np.max(np.abs(reference[n:] - ours_subset[n:]))
    truth = elo_scale(ALPHA * skill, names)
    plain_values = np.array([result["plain"][m]["value"] for m in names])
    style_values = np.array([result["style_controlled"][m]["value"] for m in names])
    length = result["coefficients"][0]
    read_total = read_plain + build
    print(f"battles {args.battles:,} among {args.models} models; plain bootstrap {args.rounds} rounds, "
          f"style-controlled {args.style_rounds} rounds")
    print(f"read plain JSONL + table            {read_total:8.2f} s  ({read_plain:.2f} read, {build:.2f} table)")
    print(f"eval elo leaderboard, {args.rounds} rounds   {plain_board:8.2f} s  (both tie tables, online Elo, matrices)")
    print(f"eval elo end to end                  {read_total + plain_board:8.2f} s  (goal <= 8 s)")
    print(f"read JSONL with conv_metadata        {read_styled:8.2f} s")
    print(f"style features from conv_metadata    {extract:8.2f} s")
    print(f"one fit: plain (pair counts, Newton) {board_fit_ms(styled_table):8.1f} ms")
    print(f"one fit: style-controlled (Newton)   {style_fit * 1000:8.1f} ms")
    print(f"one fit: FastChat's L-BFGS-B         {reference_time * len(styled_table) / len(subset) * 1000:8.1f} ms "
          f"(scaled from {len(subset):,} battles); ratio {reference_time * len(styled_table) / len(subset) / style_fit:.1f}x")
    print(f"{args.style_rounds} rounds: plain bootstrap          {plain_rounds:8.2f} s")
    print(f"{args.style_rounds} rounds: style-controlled, all    {style_total:8.2f} s  (fit, bootstrap, plain beside)")
    print(f"FastChat fit vs ours on {len(subset):,} battles: max |rating| {gap_elo:.4f} Elo, max |coefficient| "
          f"{gap_coef:.2e} logit (FastChat stops at gtol 1e-6)")
    print(f"length coefficient: true {LENGTH_EFFECT * 400 / math.log(10):.1f} Elo per SD, fitted {length['text']}")
    print(f"mean |rating - truth|: plain {np.abs(plain_values - truth).mean():.1f} Elo, style-controlled "
          f"{np.abs(style_values - truth).mean():.1f} Elo; max plain {np.abs(plain_values - truth).max():.1f}, "
          f"style {np.abs(style_values - truth).max():.1f}")
    assert "error" not in board["tie_allowed"] and theta.shape == (n + 4,)


def board_fit_ms(table) -> float:
    from chatrecipe.evaluate.elo import fit_bradley_terry

    wins, ties = table.counts()
    _, seconds = timed(fit_bradley_terry, wins + 0.5 * (ties + ties.T))
    return seconds * 1000


if __name__ == "__main__":
    main()
