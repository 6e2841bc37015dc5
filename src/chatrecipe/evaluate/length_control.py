"""Length-controlled win rate (AlpacaEval 2, Dubois et al. 2024): the win rate a model would have if its answers
were as long as the baseline's.

Run as: `chatrecipe eval winrate annotations.json --lc minimal` (or `minimal-cv`, or `v1 --lc-data df_gamed.csv`).

Each judgment's probability that the model beats the baseline is modelled by a logistic GLM (no intercept) with
a model term and `tanh` of the standardised length difference (baseline minus model, in characters, divided by
its standard deviation). Judges' soft preferences are fitted as probabilities by duplicating each row with labels
1 and 0, weighted p and 1 - p. The LC win rate is the mean predicted probability with the length term set to 0.

- `minimal`: just those two terms, on AlpacaEval's fixed-C path (L1, liblinear, C=100).
- `minimal-cv`: the same GLM with C chosen by 5-fold cross-validation, which is what alpaca_eval's shipped
  `length_controlled_minimal` does by default (equal to it on the recorded fixtures). On few rows the
  cross-validation can pick a small C that shrinks both terms towards 0: a judge that prefers only the longer
  answer, with a raw win rate of 50%, gives 32 this way and 50 with fixed C, hence `minimal` as the default.
- `v1`, AlpacaEval 2's official figure: adds each instruction's difficulty and fits jointly with the annotations
  of two length-gamed baselines (weight 0.1 each), choosing C by 5-fold grouped cross-validation, exactly as
  alpaca_eval's `glm_winrate.py` does. Both the difficulties and the gamed annotations come from AlpacaEval's
  published `df_gamed.csv`; without that file v1 is refused rather than approximated (an approximation was up
  to 8 points off the leaderboard and rewarded a length-gaming model).
"""

from __future__ import annotations

import math

import numpy as np

VARIANTS = ("minimal", "minimal-cv", "v1")
GAMED_WEIGHT = 0.2 / 2  # alpaca_eval's regularize_to_baseline_lambda, shared by its two gamed baselines
V1_NEEDS_DATA = ("--lc v1 is AlpacaEval's official GLM: it needs AlpacaEval's published df_gamed.csv (instruction "
                 "difficulties and the gamed baselines' annotations). Download it from {url} and pass it with "
                 "--lc-data df_gamed.csv (lc_data= in Python), or use --lc minimal")


class LengthControlError(ValueError):
    """Annotations that cannot be length-controlled (misaligned instructions, one row); names the problem."""


def check_alignment(annotations: list[dict], instructions: list[str] | None = None) -> None:
    """Each instruction once; when a question set is given, exactly its instructions — else say which differ."""
    seen: dict[str, int] = {}
    for a in annotations:
        seen[a["instruction"]] = seen.get(a["instruction"], 0) + 1
    duplicated = [i for i, n in seen.items() if n > 1]
    problems = []
    if duplicated:
        problems.append(f"duplicated instructions: {duplicated[:3]}{' ...' if len(duplicated) > 3 else ''}")
    if instructions is not None:
        missing = [i for i in instructions if i not in seen]
        extra = [i for i in seen if i not in set(instructions)]
        if missing:
            problems.append(f"{len(missing)} instructions have no judgment, e.g. {missing[:2]}")
        if extra:
            problems.append(f"{len(extra)} judgments are for instructions not in the question set, e.g. {extra[:2]}")
    if problems:
        raise LengthControlError("judgments do not line up with the question set: " + "; ".join(problems))


def _l1() -> dict:
    """An L1 penalty in the words of the installed scikit-learn (1.8 replaced `penalty` by the l1 ratio)."""
    import sklearn

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    return {"penalty": "l1"} if (major, minor) < (1, 8) else {"l1_ratio": 1.0}


def _soft_logistic(features: np.ndarray, targets: np.ndarray, C: float = 100.0):
    """L1 logistic regression on probability targets, by row duplication (AlpacaEval's fixed-C path)."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([features, features])
    y = np.concatenate([np.ones(len(targets)), np.zeros(len(targets))])
    weights = np.concatenate([targets, 1 - targets])
    model = LogisticRegression(C=C, solver="liblinear", fit_intercept=False, random_state=123, **_l1())
    return model.fit(x, y, sample_weight=weights)


def _soft_log_loss(y_true, y_pred, true_prob, true_weight) -> float:
    """Weighted log-loss against the soft targets the duplicated rows stand for (the cross-validation score)."""
    target = np.where(y_true == 1, true_prob, 1 - true_prob)
    q = np.clip(y_pred, 1e-15, 1 - 1e-15)
    return float(-np.mean(true_weight * (target * np.log(q) + (1 - target) * np.log(1 - q))))


def _soft_logistic_cv(features: np.ndarray, targets: np.ndarray, weights: np.ndarray):
    """L1 logistic regression on probability targets with C chosen from 10 values by 5-fold cross-validation that
    keeps each row's two copies in one fold, scored by the soft weighted log-loss (AlpacaEval's v1 path)."""
    import sklearn
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    n = len(targets)
    x = np.concatenate([features, features])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    prob = np.concatenate([targets, 1 - targets])
    weight = np.concatenate([weights, weights])
    l1 = {"l1_ratios": (1.0,), "use_legacy_attributes": False} if "l1_ratio" in _l1() else _l1()
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_scorer(_soft_log_loss, response_method="predict_proba", greater_is_better=False)
        scorer = scorer.set_score_request(true_prob=True, true_weight=True)
        model = LogisticRegressionCV(Cs=10, cv=GroupKFold(n_splits=5), scoring=scorer, solver="liblinear",
                                     fit_intercept=False, random_state=123, **l1)
        model.set_fit_request(sample_weight=True)
        return model.fit(x, y, sample_weight=prob * weight, groups=np.concatenate([np.arange(n), np.arange(n)]),
                         true_prob=prob, true_weight=weight)


def _targets(rows: list[dict]) -> np.ndarray:
    """Preferences in [0, 1] for the evaluated model (AlpacaEval's [1, 2], a tie written 0 read as 1.5)."""
    return np.array([(1.5 if float(a["preference"]) == 0 else float(a["preference"])) - 1 for a in rows])


def lc_win_rate(annotations: list[dict], variant: str = "minimal", lc_data: dict | None = None,
                instructions: list[str] | None = None) -> dict:
    """Raw and length-controlled win rate (in %) of generator_2 against generator_1 on AlpacaEval annotations.

    `annotations`: one model's rows, instruction, output_1 (baseline), output_2 (model), preference in [1, 2]
    (None = failed, excluded; 0 = tie, as AlpacaEval writes it). `lc_data`: AlpacaEval's df_gamed.csv as read by
    `data.eval_formats.alpaca_eval.read_lc_data`, required for `v1`.
    """
    if variant not in VARIANTS:
        raise LengthControlError(f"unknown length-control variant {variant!r}; use {', '.join(VARIANTS)}")
    check_alignment(annotations, instructions)
    if variant == "v1":
        return _lc_v1(annotations, lc_data)
    judged = np.flatnonzero([a.get("preference") is not None for a in annotations])
    rows = [annotations[i] for i in judged]
    if len(rows) < 2:
        raise LengthControlError("need at least two judged instructions to fit the length model")
    targets = _targets(rows)
    # as alpaca_eval does, the length difference is standardised over all the model's rows, failed ones too
    delta = np.array([len(a["output_1"]) - len(a["output_2"]) for a in annotations], dtype=float)
    scale = delta.std(ddof=1)
    std_delta = (delta / scale if scale > 0 else np.zeros_like(delta))[judged]
    features = np.column_stack([np.tanh(std_delta), np.ones(len(rows))])
    model = (_soft_logistic(features, targets) if variant == "minimal" else
             _soft_logistic_cv(features, targets, np.ones(len(rows))))
    neutral = features.copy()
    neutral[:, 0] = 0.0  # as if the answers had the baseline's length
    predicted = model.predict_proba(neutral)[:, 1]
    return {"win_rate": 100 * float(targets.mean()), "length_controlled_winrate": 100 * float(predicted.mean()),
            "n": len(rows), "excluded_failures": len(annotations) - len(rows), "variant": variant,
            "weights": dict(zip(["length", "model"], map(float, model.coef_[0])))}


def _lc_v1(annotations: list[dict], lc_data: dict | None) -> dict:
    """AlpacaEval 2's length-controlled win rate v1, from the model's annotations in the evaluation set's order.

    As in alpaca_eval, an instruction's difficulty is looked up by its position, the length difference is
    standardised over all the model's rows (failed ones too), the gamed baselines' rows come first in the fit, and
    the prediction averages over every row of the model."""
    from chatrecipe.data.eval_formats.alpaca_eval import LC_DATA_URL

    if lc_data is None:
        raise LengthControlError(V1_NEEDS_DATA.format(url=LC_DATA_URL))
    difficulty = lc_data["difficulty"]
    models = sorted({a.get("generator_2") for a in annotations})
    if len(models) != 1:
        raise LengthControlError("v1 rates one model at a time; these annotations are of "
                                 + ", ".join(map(str, models)))
    if len(annotations) != len(difficulty):
        raise LengthControlError(
            f"v1 matches instruction difficulties by position in AlpacaEval's evaluation set ({len(difficulty)} "
            f"instructions in df_gamed.csv), but {models[0]} has {len(annotations)} annotations; give the complete "
            "annotation file in AlpacaEval's order")
    judged = [a.get("preference") is not None for a in annotations]
    rows = [a for a, ok in zip(annotations, judged) if ok]
    if len(rows) < 2:
        raise LengthControlError("need at least two judged instructions to fit the length model")
    raw = _targets(rows)
    result = {"win_rate": 100 * float(raw.mean()), "n": len(rows),
              "excluded_failures": len(annotations) - len(rows), "variant": "v1"}
    if models[0] == annotations[0].get("generator_1"):  # a model against itself: 50% by construction
        return {**result, "length_controlled_winrate": 50.0, "lc_standard_error": 0.0, "weights": {}}
    delta = np.array([len(a["output_1"]) - len(a["output_2"]) for a in annotations], dtype=float)
    scale = delta.std(ddof=1)
    if not scale > 0:
        raise LengthControlError("every answer differs from the baseline's by the same length: the length term "
                                 "cannot be standardised")
    gamed = [r for r in lc_data["rows"] if r["preference"] is not None]
    judged_rows = np.flatnonzero(judged)
    features = np.concatenate([
        np.column_stack([np.tanh([r["std_delta_len"] for r in gamed]), [r["instruction_difficulty"] for r in gamed],
                         [float(r["not_gamed_baseline"]) for r in gamed]]),
        np.column_stack([np.tanh(delta / scale)[judged_rows], np.asarray(difficulty)[judged_rows],
                         np.ones(len(rows))])])
    targets = np.concatenate([[r["preference"] for r in gamed], raw])
    weights = np.array([1.0 if r["not_gamed_baseline"] else GAMED_WEIGHT for r in gamed] + [1.0] * len(rows))
    model = _soft_logistic_cv(features, targets, weights)
    neutral = np.column_stack([np.zeros(len(annotations)), difficulty, np.ones(len(annotations))])
    predicted = model.predict_proba(neutral)[:, 1]
    return {**result, "length_controlled_winrate": 100 * float(predicted.mean()),
            "lc_standard_error": 100 * float(predicted.std(ddof=1) / math.sqrt(len(predicted))),
            "C": float(np.ravel(model.C_)[0]),
            "weights": dict(zip(["length", "instruction_difficulty", "model"], map(float, np.ravel(model.coef_))))}


def annotations_from_judgments(judgments: list[dict], answers: dict[str, list[dict]], model: str,
                               baseline: str) -> list[dict]:
    """chatrecipe pairwise judgments (both orders combined) + answer texts -> AlpacaEval-style annotations."""
    from chatrecipe.judge.pairwise import combine_orders

    texts = {(a["model"], a["question_id"]): a["turns"] for recs in answers.values() for a in recs}
    combined, _ = combine_orders([j for j in judgments if {j["model_a"], j["model_b"]} == {model, baseline}])
    rows = []
    for c in combined:
        mine, theirs = texts.get((model, c["question_id"])), texts.get((baseline, c["question_id"]))
        if mine is None or theirs is None:
            continue
        turn = c.get("turn", 1) - 1
        preference = None
        if not c.get("error") and c["winner"] is not None:
            winner = c["model_a"] if c["winner"] == "model_a" else c["model_b"] if c["winner"] == "model_b" else None
            preference = 1.5 if winner is None else 2.0 if winner == model else 1.0
        rows.append({"instruction": f"{c['question_id']}#{turn + 1}", "output_1": theirs[turn],
                     "output_2": mine[turn], "generator_1": baseline, "generator_2": model,
                     "preference": preference})
    return rows
