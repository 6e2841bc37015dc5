"""Agreement math against hand-computed values and published examples; the rating scales' margins."""

from __future__ import annotations

import math

import pytest

from chatrecipe.annotate.agreement import agreement_table, cohen_kappa, fleiss_kappa, krippendorff_alpha
from chatrecipe.annotate.scales import RatingError, choice_of, displayed_rating, margin_of, to_file_terms

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4-coder, 12-unit example (None = missing)
KRIPP = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
KRIPP_UNITS = [list(unit) for unit in zip(*KRIPP)]


def test_cohen_kappa_by_hand():
    # 10 items: agree on 7; A says yes 5 times, B 6 times -> pe = .5*.6 + .5*.4 = .5, po = .7, kappa = .4
    a = ["y", "y", "y", "y", "y", "n", "n", "n", "n", "n"]
    b = ["y", "y", "y", "y", "n", "y", "y", "n", "n", "n"]
    # agreements: 4 yes + 3 no = 7
    assert cohen_kappa(a, b) == pytest.approx((0.7 - 0.5) / 0.5)
    assert cohen_kappa(["x"] * 3, ["x"] * 3) is None  # one label only: chance agreement is 1, kappa undefined


def test_fleiss_kappa_wikipedia_example():
    # Fleiss (1971) via Wikipedia: 10 subjects, 14 raters, 5 categories -> kappa = 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    units = [[category for category, count in enumerate(row) for _ in range(count)] for row in table]
    assert fleiss_kappa(units) == pytest.approx(0.2099, abs=1e-4)
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 2], [1, 2, 3]])


def test_krippendorff_alpha_published_values():
    # Krippendorff's own worked values for this data: nominal .743, interval .849
    assert krippendorff_alpha(KRIPP_UNITS, "nominal") == pytest.approx(0.743, abs=1e-3)
    assert krippendorff_alpha(KRIPP_UNITS, "interval") == pytest.approx(0.849, abs=1e-3)


def test_krippendorff_alpha_matches_the_reference_package():
    krippendorff = pytest.importorskip("krippendorff")
    data = [[math.nan if v is None else v for v in row] for row in KRIPP]
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(KRIPP_UNITS, level) == pytest.approx(
            krippendorff.alpha(reliability_data=data, level_of_measurement=level), abs=1e-9)


def test_perfect_and_opposite_agreement():
    assert krippendorff_alpha([[1, 1], [8, 8], [3, 3]], "interval") == 1.0
    assert krippendorff_alpha([[1, 8], [8, 1]], "interval") < 0
    table = agreement_table({"i1": {"x": "a", "y": "a"}, "i2": {"x": "b", "y": "b"}, "i3": {"x": "a"}},
                            {"i1": {"x": 1, "y": 2}, "i2": {"x": 8, "y": 7}})
    assert table["items_multiply_labelled"] == 2 and table["percent_agreement"] == 1.0
    assert table["cohen_kappa_mean"] == 1.0 and table["fleiss_kappa"] == 1.0
    assert 0.9 < table["alpha_interval"] < 1.0  # close ratings: almost, not exactly, perfect


def test_scales_map_to_choice_and_margin():
    assert displayed_rating("anthropic-8", {"rating": "1"}) == 1
    assert displayed_rating("llama2-4", {"choice": "B", "level": "significantly better"}) == 8
    assert displayed_rating("llama2-4", {"choice": "A", "level": "negligibly better / unsure"}) == 4
    assert [margin_of(r) for r in range(1, 9)] == [3, 2, 1, 0, 0, 1, 2, 3]
    # B was shown on the left: the annotator's "left (A) much better" prefers the file's B
    assert choice_of(to_file_terms(1, swapped=True)) == "b" and choice_of(to_file_terms(1, swapped=False)) == "a"
    for bad in ({"rating": "9"}, {"rating": ""}, {}):
        with pytest.raises(RatingError):
            displayed_rating("anthropic-8", bad)
    with pytest.raises(RatingError):
        displayed_rating("llama2-4", {"choice": "A"})
