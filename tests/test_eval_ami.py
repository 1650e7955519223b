"""AMI as Zhang & Leung define it (appendix A.1): max{H(T), H(I)} in the denominator."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from semclust.core.errors import SemclustError
from semclust.study.routes import modality_agreement
from semclust.validation.evaluate.ami import adjusted_mutual_info, form_name
from semclust.validation.evaluate.compare import ami
from semclust.validation.evaluate.seed_stability import stability


def appendix_a1(t: list, i: list, denominator=max) -> float:
    """Equations (1)-(7) of appendix A.1, written out with exact hypergeometric sums."""
    n = len(t)
    cells = Counter(zip(t, i, strict=True))
    a, b = Counter(t), Counter(i)
    mi = sum(c / n * math.log(n * c / (a[x] * b[y])) for (x, y), c in cells.items())
    emi = 0.0
    for ai in a.values():
        for bj in b.values():
            for nij in range(max(1, ai + bj - n), min(ai, bj) + 1):
                p = math.comb(bj, nij) * math.comb(n - bj, ai - nij) / math.comb(n, ai)
                emi += p * nij / n * math.log(n * nij / (ai * bj))
    h_t = -sum(c / n * math.log(c / n) for c in a.values())
    h_i = -sum(c / n * math.log(c / n) for c in b.values())
    return (mi - emi) / (denominator(h_t, h_i) - emi)


# Two text clusters of 4; the image clustering splits the second one in two (4, 2, 2):
# H(I) = 1.5 ln 2 > H(T) = ln 2, so the max and the mean denominators differ.
TEXT = [0, 0, 0, 0, 1, 1, 1, 1]
IMAGE = [0, 0, 0, 0, 1, 1, 2, 2]


def test_hand_worked_example():
    # n = 8; the image labels refine the text labels, so MI = H(T) = ln 2.
    # E[MI], per text cluster (a_i = 4), with P(n) = C(b, n) C(8 - b, 4 - n) / C(8, 4):
    #   b_j = 4: P(1..4) = 16, 36, 16, 1 (/70), terms n/8 ln(8n / 16);
    #   b_j = 2 (twice): P(1), P(2) = 40, 15 (/70), terms n/8 ln(8n / 8) (n = 1 adds 0).
    ln2 = math.log(2)
    big = (16 * (1 / 8) * math.log(1 / 2) + 16 * (3 / 8) * math.log(3 / 2) + 1 * (4 / 8) * ln2) / 70
    small = 15 / 70 * (2 / 8) * ln2
    emi = 2 * (big + 2 * small)
    h_t, h_i = ln2, 1.5 * ln2
    by_hand = (ln2 - emi) / (h_i - emi)  # max{H(T), H(I)} = H(I)
    assert appendix_a1(TEXT, IMAGE) == pytest.approx(by_hand, abs=1e-12)
    assert adjusted_mutual_info(TEXT, IMAGE) == pytest.approx(by_hand, abs=1e-12)
    mean_form = (ln2 - emi) / ((h_t + h_i) / 2 - emi)
    assert adjusted_mutual_info(TEXT, IMAGE, "arithmetic") == pytest.approx(mean_form, abs=1e-12)
    assert 0 < by_hand < mean_form - 0.05  # the two forms differ here


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_appendix_on_random_labelings(seed):
    rng = np.random.default_rng(seed)
    t, i = rng.integers(0, 4, 40).tolist(), rng.integers(-1, 3, 40).tolist()
    assert adjusted_mutual_info(t, i) == pytest.approx(appendix_a1(t, i), abs=1e-10)


def test_every_printed_ami_defaults_to_the_max_form():
    ids = [f"p{k}" for k in range(len(TEXT))]
    expected = appendix_a1(TEXT, IMAGE)
    assert ami(pd.Series(TEXT, index=ids), pd.Series(IMAGE, index=ids)) == pytest.approx(expected)
    report = stability({0: np.array(TEXT), 1: np.array(IMAGE)}.__getitem__, seeds=[0, 1])
    assert report.pairwise_ami["ami"].iloc[0] == pytest.approx(expected)
    assert report.ami_form == "max"
    diagnostic = modality_agreement(np.array(TEXT), np.array(IMAGE))
    assert diagnostic["ami_text_image"] == pytest.approx(expected)
    assert diagnostic["ami_text_image_arithmetic"] == pytest.approx(
        appendix_a1(TEXT, IMAGE, denominator=lambda x, y: (x + y) / 2)
    )
    assert "max" in diagnostic["ami_form"] and "not the paper's" in diagnostic["reading"]


def test_diagnostic_reports_ami_with_and_without_outliers():
    text = np.array([0, 0, 0, 1, 1, 1, -1, -1, 2, 2])
    image = np.array([0, 0, 1, 1, 1, -1, 0, 1, 2, 2])
    result = modality_agreement(text, image)
    keep = (text >= 0) & (image >= 0)
    assert result["n_outlier_items"] == 3
    assert result["ami_text_image"] == pytest.approx(appendix_a1(text.tolist(), image.tolist()))
    assert result["ami_text_image_without_outliers"] == pytest.approx(
        appendix_a1(text[keep].tolist(), image[keep].tolist())
    )


def test_unknown_form_is_named():
    assert "Zhang & Leung" in form_name("max")
    with pytest.raises(SemclustError, match="AMI form"):
        adjusted_mutual_info(TEXT, IMAGE, "mean")
