"""Inter-annotator agreement: Cohen's kappa (two people), Fleiss' kappa (k people), Krippendorff's alpha (ratings).

Agreement says how much of the preference signal is signal: the recipe's human preference sets agree 60-75% of
the time, and a reward model cannot be more accurate than its labellers. Kappa corrects raw agreement for chance;
Krippendorff's alpha handles missing ratings and uses the distance between ratings (interval or ordinal), so
"A much better" vs "A better" counts as a small disagreement, not a full one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Hashable, Mapping, Sequence


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two annotators' labels on the same items (None when undefined: no items or one label)."""
    if len(a) != len(b):
        raise ValueError("both annotators must label the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in set(a) | set(b)) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def fleiss_kappa(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa over items that each carry the same number (>= 2) of labels."""
    units = [list(u) for u in units]
    if not units:
        return None
    raters = len(units[0])
    if raters < 2 or any(len(u) != raters for u in units):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of labels on every item")
    totals: Counter = Counter()
    agreement = 0.0
    for unit in units:
        counts = Counter(unit)
        totals.update(counts)
        agreement += (sum(c * c for c in counts.values()) - raters) / (raters * (raters - 1))
    p_bar = agreement / len(units)
    all_labels = len(units) * raters
    p_expected = sum((c / all_labels) ** 2 for c in totals.values())
    return None if p_expected == 1 else (p_bar - p_expected) / (1 - p_expected)


def krippendorff_alpha(units: Sequence[Sequence[float | None]], level: str = "interval") -> float | None:
    """Krippendorff's alpha from per-item values (None = missing); `level` is nominal, ordinal or interval.

    Built on the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"): items
    with fewer than two values are not pairable and drop out.
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError("level must be nominal, ordinal or interval")
    coincidence: dict[tuple, float] = defaultdict(float)
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, j in ((i, j) for i in range(m) for j in range(m) if i != j):
            coincidence[(values[i], values[j])] += 1 / (m - 1)
    marginals: dict = defaultdict(float)
    for (c, _k), weight in coincidence.items():
        marginals[c] += weight
    n = sum(marginals.values())
    if n <= 1:
        return None
    values = sorted(marginals)

    def delta(c, k) -> float:
        if level == "nominal":
            return 0.0 if c == k else 1.0
        if level == "interval":
            return float(c - k) ** 2
        lo, hi = sorted((values.index(c), values.index(k)))
        between = sum(marginals[values[g]] for g in range(lo, hi + 1))
        return (between - (marginals[c] + marginals[k]) / 2) ** 2

    observed = sum(w * delta(c, k) for (c, k), w in coincidence.items()) / n
    expected = sum(marginals[c] * marginals[k] * delta(c, k) for c in values for k in values) / (n * (n - 1))
    return None if expected == 0 else 1 - observed / expected


def agreement_table(labels: Mapping[Hashable, Mapping[str, Hashable]],
                    ratings: Mapping[Hashable, Mapping[str, float]] | None = None) -> dict:
    """All agreement figures for items labelled by several people.

    Args:
        labels: item -> annotator -> nominal label (e.g. "a" / "b", the preferred response in file terms).
        ratings: item -> annotator -> numeric rating (e.g. 1-8), for Krippendorff's interval and ordinal alpha.
    """
    shared = {item: by for item, by in labels.items() if len(by) >= 2}
    pair_agree = [by_a == by_b for by in shared.values() for by_a, by_b in combinations(by.values(), 2)]
    pairs: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    for by in shared.values():
        for x, y in combinations(sorted(by), 2):
            pairs[(x, y)][0].append(by[x])
            pairs[(x, y)][1].append(by[y])
    cohen = {f"{x} vs {y}": {"items": len(la), "kappa": cohen_kappa(la, lb)} for (x, y), (la, lb) in sorted(pairs.items())}
    kappas = [c["kappa"] for c in cohen.values() if c["kappa"] is not None]
    # Fleiss needs a constant number of raters: use the items with the most common count
    size = Counter(len(by) for by in shared.values()).most_common(1)[0][0] if shared else 0
    fleiss_units = [list(by.values()) for by in shared.values() if len(by) == size]
    annotators = sorted({a for by in labels.values() for a in by})
    nominal_units = [[by.get(a) for a in annotators] for by in shared.values()]
    codes = {label: i for i, label in enumerate(sorted({v for u in nominal_units for v in u if v is not None}, key=str))}
    result = {
        "items": len(labels), "items_multiply_labelled": len(shared),
        "percent_agreement": sum(pair_agree) / len(pair_agree) if pair_agree else None,
        "cohen_kappa_mean": sum(kappas) / len(kappas) if kappas else None,
        "cohen_kappa_pairs": cohen,
        "fleiss_kappa": fleiss_kappa(fleiss_units) if fleiss_units else None,
        "fleiss_raters_per_item": size or None,
        "alpha_nominal": krippendorff_alpha([[None if v is None else codes[v] for v in u] for u in nominal_units],
                                            "nominal"),
    }
    rated = [[by.get(a) for a in annotators] for by in (ratings or {}).values() if len(by) >= 2]
    result["alpha_interval"] = krippendorff_alpha(rated, "interval") if rated else None
    result["alpha_ordinal"] = krippendorff_alpha(rated, "ordinal") if rated else None
    return result

