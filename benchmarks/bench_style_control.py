"""`eval elo` end to end at Arena scale, plain and style-controlled: 1,000,000 battles among 100 models.

Run as: `python benchmarks/bench_style_control.py [--battles 1000000] [--models 100] [--rounds 1000]
[--style-rounds 100] [--reference-battles 200000]`.

Writes two battle files (plain records, and records with Arena's conv_metadata), then times, measured side by
side in one run, wall clock and this process's CPU time (the machine may be shared): reading and building the
table, the plain leaderboard with its bootstrap (both tie tables, online Elo, win matrices: what `eval elo`
computes), the style features read from the metadata, the style-controlled fit and its bootstrap. For one fit,
FastChat's published method (the row-wise loss with L-BFGS-B at its defaults, 100 iterations and gtol 1e-6;
written here from the algorithm, not copied) runs on the same battles: its time, and the largest difference to
our Newton fit. The simulated judge prefers longer answers by a known amount, so the run also prints how far
the plain and the style-controlled ratings are from the true skills.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from chatrecipe.evaluate.battle_files import read_battles
from chatrecipe.evaluate.battles import BattleTable, battle_table
from chatrecipe.evaluate.elo import elo_scale, fit_bradley_terry, leaderboard, one_blas_thread
from chatrecipe.evaluate.style_control import (ALPHA, ELO_PER_LOGIT, REG, fit_contextual_bt, style_control,
                                               style_features)
from chatrecipe.evaluate.style_features import style_counts

LENGTH_EFFECT = 0.4  # logit per standard deviation of relative length: the simulated judge's taste


def simulate(n_battles: int, n_models: int, seed: int = 0) -> tuple[dict, list[str], np.ndarray]:
    """Columns of battles whose verdicts follow known skills plus a known preference for the longer answer. Ties
    are likelier between close answers and drawn so that model_a's expected score is its win probability."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(0, 0.3, n_models)  # base-10 log-strengths: 400 * skill is Elo
    typical_length = rng.lognormal(6, 0.5, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    tokens = [rng.poisson(typical_length[side] * rng.lognormal(0, 0.3, n_battles)) for side in (a, b)]
    markdown = [[rng.poisson(rate, n_battles) for rate in (1.0, 3.0, 2.0)] for _ in (a, b)]
    diff = (tokens[0] - tokens[1]) / (tokens[0] + tokens[1] + 1.0)
    logit = ALPHA * (skill[a] - skill[b]) + LENGTH_EFFECT * (diff - diff.mean()) / diff.std()
    p = 1 / (1 + np.exp(-logit))
    tie, u = 0.4 * p * (1 - p), rng.random(n_battles)
    winner = np.where(u < p - tie / 2, "model_a", np.where(u < p + tie / 2, "tie", "model_b"))
    names = [f"m{i:03d}" for i in range(n_models)]
    return {"a": a, "b": b, "winner": winner, "tokens": tokens, "markdown": markdown}, names, skill


def write_files(columns: dict, names: list[str], folder: Path) -> tuple[Path, Path]:
    """The plain file (model_a, model_b, winner) and the Arena-shaped one with conv_metadata."""
    plain, styled = folder / "battles.jsonl", folder / "battles_metadata.jsonl"
    (ta, tb), ((ha, la, ba), (hb, lb, bb)) = columns["tokens"], columns["markdown"]
    with open(plain, "w") as plain_out, open(styled, "w") as styled_out:
        for i, (x, y, w) in enumerate(zip(columns["a"].tolist(), columns["b"].tolist(), columns["winner"].tolist())):
            record = {"model_a": names[x], "model_b": names[y], "winner": w}
            plain_out.write(json.dumps(record) + "\n")
            record["conv_metadata"] = {
                "sum_assistant_a_tokens": int(ta[i]), "sum_assistant_b_tokens": int(tb[i]),
                "header_count_a": {"h1": int(ha[i]), "h2": 0, "h3": 0},
                "header_count_b": {"h1": int(hb[i]), "h2": 0, "h3": 0},
                "list_count_a": {"ordered": int(la[i]), "unordered": 0},
                "list_count_b": {"ordered": int(lb[i]), "unordered": 0},
                "bold_count_a": {"**": int(ba[i]), "__": 0}, "bold_count_b": {"**": int(bb[i]), "__": 0}}
            styled_out.write(json.dumps(record) + "\n")
    return plain, styled


def fastchat_style_fit(table: BattleTable, features: np.ndarray, reg: float = REG) -> np.ndarray:
    """FastChat's published fit: the row-wise penalised loss and its gradient, minimised by L-BFGS-B."""
    from scipy.optimize import minimize

    n, outcome = len(table.models), table.score

    def loss_and_gradient(params):
        ratings, beta = params[:n], params[n:]
        probs = 1 / (1 + np.exp(-(ALPHA * (ratings[table.a] - ratings[table.b]) + features @ beta)))
        loss = -(np.log(probs) * outcome + np.log(1 - probs) * (1 - outcome)).sum() + reg / 2 * params @ params
        error = outcome - probs
        gradient = reg * params
        np.add.at(gradient, table.a, -ALPHA * error)
        np.add.at(gradient, table.b, ALPHA * error)
        gradient[n:] -= features.T @ error
        return loss, gradient

    return minimize(loss_and_gradient, np.zeros(n + features.shape[1]), jac=True, method="L-BFGS-B",
                    options={"maxiter": 100, "gtol": 1e-6}).x


class Clock:
    """Wall and CPU seconds of each timed step, printed as one table."""

    def __init__(self):
        self.rows = []

    def __call__(self, label, function, *args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        value = function(*args, **kwargs)
        self.rows.append((label, time.perf_counter() - wall, time.process_time() - cpu))
        return value

    def add(self, label, *parts):
        picked = [r for r in self.rows if r[0] in parts]
        self.rows.append((label, sum(r[1] for r in picked), sum(r[2] for r in picked)))

    def print(self):
        print(f"{'step':<58} {'wall s':>8} {'cpu s':>8}")
        for label, wall, cpu in self.rows:
            print(f"{label:<58} {wall:8.2f} {cpu:8.2f}")


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
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        plain_file, style_file = write_files(columns, names, Path(folder))
        rows, _ = clock("read plain JSONL", read_battles, [plain_file])
        table = clock("columnar table", battle_table, rows)
        board = clock(board_label(args.rounds), leaderboard, table, bootstrap=args.rounds)
        clock.add("eval elo end to end: the three steps above (goal <= 8 s)", "read plain JSONL", "columnar table",
                  board_label(args.rounds))
        del rows
        styled_rows, _ = clock("read JSONL with conv_metadata", read_battles, [style_file])
    counts, _, _ = clock("style features from conv_metadata", style_counts, styled_rows)
    styled_table = battle_table(styled_rows)
    del styled_rows
    wins, ties = styled_table.counts()
    clock("one plain fit (pair counts, Newton)", fit_bradley_terry, wins + 0.5 * (ties + ties.T))
    clock("one style-controlled fit (Newton, from the plain ratings)", style_control, styled_table, counts=counts,
          bootstrap=0)
    subset = np.arange(min(args.reference_battles, len(styled_table)))
    sub_table = BattleTable(names, styled_table.a[subset], styled_table.b[subset], styled_table.code[subset])
    features, _ = style_features(counts)
    with one_blas_thread():
        reference = clock(f"one FastChat L-BFGS-B fit on {len(subset):,} battles", fastchat_style_fit, sub_table,
                          features[subset])
        ours = clock(f"one style-controlled fit on {len(subset):,} battles (ours)", fit_contextual_bt, sub_table,
                     features[subset])
    result = clock(f"style-controlled, {args.style_rounds} rounds (plain beside, same rounds)", style_control,
                   styled_table, counts=counts, bootstrap=args.style_rounds)
    clock.print()
    n = args.models
    gap = np.max(np.abs(elo_scale(ALPHA * reference[:n], names) - elo_scale(ALPHA * ours[:n], names)))
    print(f"\nFastChat's fit vs ours on {len(subset):,} battles: max |rating difference| {gap:.4f} Elo, max "
          f"|coefficient difference| {np.max(np.abs(reference[n:] - ours[n:])):.1e} logit "
          "(L-BFGS-B stops at gtol 1e-6)")
    truth = elo_scale(ALPHA * skill, names)
    errors = {}
    for kind in ("plain", "style_controlled"):
        values = result[kind]
        gap = np.abs(np.array([values[m]["value"] for m in names]) - truth)
        covered = np.mean([values[m]["ci_low"] <= t <= values[m]["ci_high"] for m, t in zip(names, truth)])
        errors[kind] = (f"mean {gap.mean():.1f} / max {gap.max():.1f} Elo, truth inside the 95% interval "
                        f"{100 * covered:.0f}%")
    print(f"true length effect {LENGTH_EFFECT * ELO_PER_LOGIT:+.1f} Elo per SD; fitted: "
          f"{result['coefficients'][0]['text']}")
    print(f"|rating - true skill|: plain {errors['plain']}; style-controlled {errors['style_controlled']}; "
          f"{len(result['rank_changes'])} of {n} models change rank")
    assert "error" not in board["tie_allowed"]


def board_label(rounds: int) -> str:
    return f"plain leaderboard, {rounds} rounds (two tie tables, online Elo)"


if __name__ == "__main__":
    main()
