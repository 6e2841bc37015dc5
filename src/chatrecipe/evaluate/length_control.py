"""Length-controlled win rate (AlpacaEval 2, Dubois et al. 2024): the win rate a model would have if its answers
were as long as the baseline's.

Run as: `chatrecipe eval winrate annotations.json --lc minimal|v1 [--difficulty difficulty.csv]`.

Each judgment's probability that the model beats the baseline is modelled by a logistic GLM (no intercept) with
a model term, `tanh` of the standardised length difference (baseline minus model, in characters, divided by its
standard deviation), and — for `v1` — an instruction-difficulty term. Judges' soft preferences are fitted as
probabilities by duplicating each row with labels 1 and 0, weighted p and 1 - p. The LC win rate is the mean
predicted probability with the length term set to zero. Regularisation follows AlpacaEval's fixed-C path (L1,
liblinear, C=100), so results do not move with scikit-learn's cross-validation.
"""

from __future__ import annotations

import numpy as np

VARIANTS = ("minimal", "v1")


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


def _soft_logistic(features: np.ndarray, targets: np.ndarray, C: float = 100.0):
    """L1 logistic regression on probability targets, by row duplication (AlpacaEval's fixed-C path)."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([features, features])
    y = np.concatenate([np.ones(len(targets)), np.zeros(len(targets))])
    weights = np.concatenate([targets, 1 - targets])
    model = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False, random_state=123)
    return model.fit(x, y, sample_weight=weights)


def lc_win_rate(annotations: list[dict], variant: str = "minimal", difficulty: dict | None = None,
                instructions: list[str] | None = None) -> dict:
    """Raw and length-controlled win rate (in %) of generator_2 against generator_1 on AlpacaEval annotations.

    `annotations`: instruction, output_1 (baseline), output_2 (model), preference in [1, 2] (None = failed,
    excluded; 0 = tie, as AlpacaEval writes it). `difficulty`: instruction -> difficulty, required for `v1`.
    """
    if variant not in VARIANTS:
        raise LengthControlError(f"unknown length-control variant {variant!r}; use {' or '.join(VARIANTS)}")
    check_alignment(annotations, instructions)
    rows = [a for a in annotations if a.get("preference") is not None]
    if len(rows) < 2:
        raise LengthControlError("need at least two judged instructions to fit the length model")
    targets = np.array([(1.5 if float(a["preference"]) == 0 else float(a["preference"])) - 1 for a in rows])
    delta = np.array([len(a["output_1"]) - len(a["output_2"]) for a in rows], dtype=float)
    scale = delta.std(ddof=1)
    std_delta = delta / scale if scale > 0 else np.zeros_like(delta)
    columns = [np.tanh(std_delta)]
    if variant == "v1":
        if difficulty is None:
            raise LengthControlError("variant v1 needs instruction difficulties (from several models' judgments "
                                     "with `estimate_difficulty`, or a file)")
        unknown = [a["instruction"] for a in rows if a["instruction"] not in difficulty]
        if unknown:
            raise LengthControlError(f"no difficulty for {len(unknown)} instructions, e.g. {unknown[:2]}")
        columns.append(np.array([difficulty[a["instruction"]] for a in rows]))
    columns.append(np.ones(len(rows)))  # the model term
    features = np.column_stack(columns)
    model = _soft_logistic(features, targets)
    neutral = features.copy()
    neutral[:, 0] = 0.0  # as if the answers had the baseline's length
    predicted = model.predict_proba(neutral)[:, 1]
    names = ["length"] + (["instruction_difficulty"] if variant == "v1" else []) + ["model"]
    return {"win_rate": 100 * float(targets.mean()), "length_controlled_winrate": 100 * float(predicted.mean()),
            "n": len(rows), "excluded_failures": len(annotations) - len(rows), "variant": variant,
            "weights": dict(zip(names, map(float, model.coef_[0])))}


def estimate_difficulty(annotations: list[dict]) -> dict[str, float]:
    """Instruction difficulty from all models' judgments on the same instructions: the logit of the baseline's
    average win share on each instruction (smoothed), centred — hard instructions are those the baseline wins."""
    totals: dict[str, list[float]] = {}
    for a in annotations:
        if a.get("preference") is not None:
            p = (1.5 if float(a["preference"]) == 0 else float(a["preference"])) - 1
            totals.setdefault(a["instruction"], []).append(1 - p)
    logits = {i: float(np.log((sum(v) + 0.5) / (len(v) - sum(v) + 0.5))) for i, v in totals.items()}
    centre = float(np.mean(list(logits.values())))
    return {i: value - centre for i, value in logits.items()}


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
