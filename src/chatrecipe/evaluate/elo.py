"""Elo and Bradley-Terry leaderboards from battles (Chatbot Arena format), with bootstrap intervals.

Run as: `chatrecipe eval elo battles.jsonl [--bootstrap 1000] [--json]`.

Bradley-Terry is fitted by maximum likelihood on the matrix of pair counts (Newton's method), not battle by battle:
the ratings are the same as a logistic regression on every battle, and a bootstrap resamples the counts
(multinomially) instead of the rows — hundreds of times faster on large battle files (PERFORMANCE-NOTES). Ties
count as half a win for each side ("tie allowed") or are dropped ("no tie"), and both tables are reported, as
the recipe shows them. `--bootstrap 0` gives point ratings with no interval. The style-controlled fit (length
and markdown as covariates) is in evaluate/style_control.py.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.lapack import dposv

from chatrecipe.evaluate.battles import BattleError, BattleTable, battle_table

BASE, SCALE, INIT = 10.0, 400.0, 1000.0


def battles_from_judgments(judgments: list[dict], questions: list[dict] | None = None) -> list[dict]:
    """One battle per combined pairwise verdict (both orders merged); failed verdicts are left out."""
    from chatrecipe.judge.pairwise import combine_orders

    categories = {q["question_id"]: q.get("category") for q in questions or []}
    combined, _ = combine_orders([j for j in judgments if j.get("kind", "pairwise") == "pairwise"])
    return [{"model_a": c["model_a"], "model_b": c["model_b"], "winner": c["winner"],
             "question_id": c["question_id"], "category": categories.get(c["question_id"], c.get("category")),
             "judge": c.get("judge"), "turn": c.get("turn")} for c in combined if not c["error"]]


def select_battles(battles: list[dict], categories: list[str] | None = None,
                   judge_prefix: str | None = None) -> list[dict]:
    """The battles whose category is one of `categories` and whose judge starts with `judge_prefix` (`human:` for
    the annotation app's votes); no filter keeps them all. A filter that keeps nothing is a BattleError naming what
    the battles do have, so a misspelt category is not read as "every battle was a tie"."""
    from collections import Counter

    def present(values) -> str:
        return ", ".join(f"{v} ({n})" for v, n in Counter(values).most_common()) or "none"

    if categories:
        kept = [b for b in battles if b.get("category") in categories]
        if battles and not kept:
            raise BattleError(f"no battle has category {', '.join(categories)}; the battles' categories are: "
                              + present(str(b.get("category") or "no category") for b in battles))
        battles = kept
    if judge_prefix:
        kept = [b for b in battles if str(b.get("judge") or "").startswith(judge_prefix)]
        if battles and not kept:
            raise BattleError(f"no battle's judge starts with {judge_prefix!r}; the judges are: "
                              + present(str(b.get("judge") or "no judge") for b in battles))
        battles = kept
    return battles


def pooled_judges(battles: list[dict]) -> str | None:
    """A warning when people's votes (judge `human:<name>`, the annotation app's) and a model judge's verdicts are
    rated as one leaderboard: the talk compares the two, and one fit of both answers neither question."""
    from collections import Counter

    judges = Counter(b.get("judge") for b in battles)  # one pass: Arena files hold millions of battles
    humans = sum(n for judge, n in judges.items() if str(judge or "").startswith("human:"))
    if not humans or humans == len(battles):
        return None
    others = Counter({str(judge): n for judge, n in judges.items() if not str(judge or "").startswith("human:")})
    named = ", ".join(f"{j} ({n})" for j, n in others.most_common(3)) + (", ..." if len(others) > 3 else "")
    return (f"{humans} human battles (judge human:...) and {len(battles) - humans} from other judges ({named}) are "
            "rated together; pass --by-judge to see each judge's ratings side by side, or --judge human: / --judge NAME "
            "to rate one alone")


def outcome_table(battles: list[dict] | BattleTable) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Models, strict wins W (W[i, j]: i beat j) and ties T (upper triangle) counted over the battles."""
    table = battle_table(battles)
    if len(table.models) < 2:
        raise BattleError(f"battles name only {table.models}: a rating needs at least two models")
    return (table.models, *table.counts())


def _with_ties(wins: np.ndarray, ties: np.ndarray, mode: str) -> np.ndarray:
    return wins + 0.5 * (ties + ties.T) if mode == "allowed" else wins


def pair_counts(battles: list[dict] | BattleTable, ties: str = "allowed") -> tuple[list[str], np.ndarray]:
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


PRIOR = 0.01  # virtual ties per pair that keep a fit finite where a model won or lost everything


def unbounded(models: list[str], wins: np.ndarray) -> str | None:
    """Why maximum likelihood has no finite ratings for these counts, or None when it has.

    Finite ratings need every group of models to have lost at least once to the rest (Zermelo, Ford): the graph
    of "i beat j" must be strongly connected. A model that won (or lost) every battle it played breaks it.
    """
    beat = wins > 0

    def reach(edges: np.ndarray) -> set[int]:
        seen, stack = {0}, [0]
        while stack:
            for other in np.nonzero(edges[stack.pop()])[0].tolist():
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        return seen

    if len(reach(beat)) == len(reach(beat.T)) == len(models):
        return None
    never_lost = [m for i, m in enumerate(models) if not beat[:, i].any()]
    never_won = [m for i, m in enumerate(models) if not beat[i].any()]
    what = "; ".join([f"{', '.join(never_lost)} never lost"] * bool(never_lost)
                     + [f"{', '.join(never_won)} never won"] * bool(never_won))
    what = what or "a group of models won every battle against the rest"
    return (f"{what}, so maximum likelihood has no finite ratings: these add {PRIOR} virtual ties per pair (as "
            "the bootstrap rounds do), and the gaps they show are that prior's; collect more battles")


def _disconnected(parts: list[list[str]]) -> BattleError:
    return BattleError("the comparison graph is disconnected, so these groups cannot be placed on one scale: "
                       + " | ".join(", ".join(p) for p in parts) + "; rate each group separately or add battles "
                       "between them")


def fit_bradley_terry(wins: np.ndarray, iterations: int = 100, tol: float = 1e-10, prior: float = 0.0,
                      start: np.ndarray | None = None) -> np.ndarray:
    """Maximum-likelihood log-strengths by Newton's method on the pair-count matrix; mean log-strength is 0.

    The log-likelihood of Bradley-Terry is concave, so Newton with step halving converges in a handful of
    iterations on an n x n problem, whatever the number of battles. `prior` adds that many virtual ties against
    every other model — zero for the exact maximum likelihood; a little keeps ratings finite in bootstrap
    samples where a model happens to win or lose everything. `start` (a bootstrap's point estimate) saves most
    iterations: a resample's optimum is one or two Newton steps away.
    """
    n = len(wins)
    w = wins + prior * 0.5 * (1 - np.eye(n))
    games, won = w + w.T, w.sum(axis=1)

    def state(theta):
        # win probabilities and log-likelihood from one matrix of differences; log-sigmoid written with exp and
        # log1p of -|diff| (never overflows), three times faster than scipy's expit and log_expit on this size
        diff = theta[:, None] - theta[None, :]
        log_p = np.minimum(diff, 0.0) - np.log1p(np.exp(-np.abs(diff)))
        return np.exp(log_p), float((w * log_p).sum())

    theta = np.zeros(n) if start is None else np.array(start, dtype=float)
    p, current = state(theta)
    for _ in range(iterations):
        gradient = won - (games * p).sum(axis=1)
        q = games * p * (1 - p)
        hessian = q - np.diag(q.sum(axis=1))
        # the likelihood only sees differences: pin the last strength and solve for the others; the pinned
        # Hessian is negative definite when the comparisons are connected (one LAPACK Cholesky solve), singular
        # otherwise (least squares)
        _, step, failed = dposv(-hessian[:-1, :-1], gradient[:-1])
        if failed:
            step = np.linalg.lstsq(hessian[:-1, :-1], -gradient[:-1], rcond=None)[0]
        scale = 1.0
        while True:
            candidate = theta.copy()
            candidate[:-1] += scale * step
            p_candidate, value = state(candidate)
            if value >= current - 1e-12:
                break
            scale /= 2
            if scale < 1e-6:  # no step along this direction helps: stay (taking it anyway once flung ratings to 1e34)
                return theta - theta.mean()
        theta, p, previous, current = candidate, p_candidate, current, value
        if np.max(np.abs(scale * step)) < tol or abs(current - previous) < tol * max(1.0, abs(current)):
            break
    return theta - theta.mean()


def elo_scale(log_strength: np.ndarray, models: list[str], anchor: str | None = None) -> np.ndarray:
    """Log-strengths (one row per fit) on the Elo scale, base 10 and scale 400, with `anchor` (or the mean) at 1000."""
    if anchor is not None and anchor not in models:
        raise BattleError(f"anchor {anchor!r} is not among the rated models ({', '.join(models[:10])}"
                          f"{', ...' if len(models) > 10 else ''}); pick one of them or leave the mean at 1000")
    elo = SCALE / math.log(BASE) * np.asarray(log_strength, dtype=float)
    offset = elo[..., models.index(anchor)] if anchor else elo.mean(axis=-1)
    return INIT + elo - np.expand_dims(offset, -1)


def to_elo(log_strength: np.ndarray, models: list[str], anchor: str | None = None) -> dict[str, float]:
    """Log-strengths on the Elo scale (base 10, scale 400), anchored so `anchor` (or the mean) sits at 1000."""
    return dict(zip(models, elo_scale(log_strength, models, anchor).tolist()))


def bradley_terry(battles: list[dict] | BattleTable, ties: str = "allowed",
                  anchor: str | None = None) -> dict[str, float]:
    """Maximum-likelihood Bradley-Terry ratings on the Elo scale; refuses a disconnected comparison graph."""
    models, wins = pair_counts(battles, ties)
    parts = components(models, wins)
    if len(parts) > 1:
        raise _disconnected(parts)
    return to_elo(fit_bradley_terry(wins), models, anchor)


def online_elo(battles: list[dict] | BattleTable, k: float = 4.0, init: float = INIT) -> dict[str, float]:
    """Sequential Elo updates in battle order (the Chatbot Arena notebook's defaults: K=4, base 10, scale 400)."""
    table = battle_table(battles)
    ratings = [init] * len(table.models)
    # plain Python floats: a sequential update cannot be vectorised, and lists are the fastest loop CPython has
    for a, b, code in zip(table.a.tolist(), table.b.tolist(), table.code.tolist()):
        ra, rb = ratings[a], ratings[b]
        update = k * (code * 0.5 - 1 / (1 + BASE ** ((rb - ra) / SCALE)))
        ratings[a] = ra + update
        ratings[b] = rb - update
    return dict(zip(table.models, ratings))


def _multinomial_cells(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-empty cells and their probabilities, with one empty cell kept last.

    Resampling battles with replacement is one multinomial draw over the cells of the outcome table. numpy draws
    a multinomial one binomial per cell and skips empty cells without consuming random numbers, so dropping them
    (all but a last one, which keeps the arithmetic of the final non-empty cell) gives the very same draws for
    the same seed, at a fraction of the cost: half the tie table is empty by construction.
    """
    keep = np.flatnonzero(cells)
    return keep, np.append(cells[keep] / cells.sum(), 0.0)


def one_blas_thread():
    """A context running BLAS/LAPACK on one thread: on n x n solves and battles x 4 products its threads mostly
    wait on each other, which made bootstraps 1.5-15x slower on a busy 2-core machine."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def bootstrap_ratings(battles: list[dict] | BattleTable, rounds: int = 1000, ties: str = "allowed", seed: int = 0,
                      anchor: str | None = None) -> dict[str, dict]:
    """Ratings with 95% intervals: each round resamples the battles (as multinomial outcome counts) and refits.

    With `rounds` 0 the ratings are the point estimates alone: `ci_low` and `ci_high` are None.
    """
    models, wins, tie_counts = outcome_table(battles)
    counted = _with_ties(wins, tie_counts, ties)
    # the rounds' prior fit: their start, and the ratings themselves where the plain fit would run to infinity
    # (it stopped wherever its iterations ran out: 3276 for ten wins, outside every interval)
    regular = fit_bradley_terry(counted, tol=1e-8, prior=PRIOR)
    theta = regular if unbounded(models, counted) else fit_bradley_terry(counted)
    point = to_elo(theta, models, anchor)
    if rounds <= 0:
        return {m: {"value": point[m], "ci_low": None, "ci_high": None} for m in models}
    n = len(models)
    cells = np.concatenate([wins.ravel(), tie_counts.ravel()])
    keep, probabilities = _multinomial_cells(cells)
    total = int(cells.sum())
    rng = np.random.default_rng(seed)
    strengths = np.empty((rounds, n))
    draw = np.zeros(2 * n * n)
    with one_blas_thread():
        for r in range(rounds):
            draw[keep] = rng.multinomial(total, probabilities)[:-1]
            sample = _with_ties(draw[:n * n].reshape(n, n), draw[n * n:].reshape(n, n), ties)
            strengths[r] = fit_bradley_terry(sample, tol=1e-8, prior=PRIOR, start=regular)
    low, high = np.quantile(elo_scale(strengths, models, anchor), [0.025, 0.975], axis=0)
    return {m: {"value": point[m], "ci_low": float(low[i]), "ci_high": float(high[i])} for i, m in enumerate(models)}


def win_matrices(battles: list[dict] | BattleTable, ratings: dict[str, float]) -> dict:
    """Observed pairwise win rates (ties half) and those Bradley-Terry predicts from the ratings (None: no figure,
    on the diagonal and for pairs that never met)."""
    models, wins = pair_counts(battles, "allowed")
    games = wins + wins.T
    observed = np.where(games > 0, wins / np.maximum(games, 1e-12), np.nan)
    r = np.array([ratings[m] for m in models])
    predicted = 1 / (1 + BASE ** ((r[None, :] - r[:, None]) / SCALE))
    np.fill_diagonal(predicted, np.nan)

    def cells(matrix: np.ndarray) -> list[list[float | None]]:  # None where there is no figure: JSON has no NaN
        return [[None if math.isnan(v) else v for v in row] for row in matrix.tolist()]

    return {"models": models, "observed": cells(observed), "predicted": cells(predicted),
            "battles": games.astype(int).tolist()}


def ratable(table: BattleTable, ties: str = "allowed") -> BattleTable:
    """The battles a table of this tie mode is fitted on; raises BattleError saying why there is no rating."""
    usable = table if ties == "allowed" else table.decisive()
    if not len(table):
        raise BattleError("no battles to rate: the file is empty or every verdict failed")
    if not len(usable):
        raise BattleError("no decisive battles: every battle was a tie")
    models, wins = pair_counts(usable, ties)
    parts = components(models, wins)
    if len(parts) > 1:
        raise _disconnected(parts)
    return usable


def leaderboard(battles: list[dict] | BattleTable, bootstrap: int = 1000, seed: int = 0,
                anchor: str | None = None) -> dict:
    """Both tables (tie allowed, no tie) with intervals, battle counts, online Elo and the win-rate matrices.

    Battles that cannot be rated never raise: each table says why it is missing, and `error` is set when
    neither could be made, so a command can say so and exit non-zero. `bootstrap` 0 gives point ratings.
    `tie_<mode>_unbounded` says why a table's ratings rest on the bootstrap's prior (see `unbounded`).
    """
    result = {"battles": len(battles), "battle_counts": {}, "bootstrap": bootstrap, "anchor": anchor}
    if bootstrap <= 0:
        result["note"] = "point ratings only: no bootstrap rounds, so no intervals"
    try:
        table = battle_table(battles)
    except BattleError as exc:
        error = {"error": str(exc)}
        return {**result, "tie_allowed": error, "tie_none": error, "online_elo": {}, "error": str(exc)}
    result["battle_counts"] = table.battle_counts()
    for ties in ("allowed", "none"):
        try:
            usable = ratable(table, ties)
            result[f"tie_{ties}"] = bootstrap_ratings(usable, bootstrap, ties, seed, anchor)
        except BattleError as exc:
            result[f"tie_{ties}"] = {"error": str(exc)}
            continue
        why = unbounded(*pair_counts(usable, ties))
        if why:
            result[f"tie_{ties}_unbounded"] = why
    result["online_elo"] = online_elo(table)
    if "error" not in result["tie_allowed"]:
        result["matrices"] = win_matrices(table, {m: v["value"] for m, v in result["tie_allowed"].items()})
    elif "error" in result["tie_none"]:
        result["error"] = result["tie_allowed"]["error"]
    return result
