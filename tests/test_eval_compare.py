"""AMI between runs and the Hungarian-permuted co-occurrence table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from figure_capture import capture_figures
from semclust.core.errors import SemclustError
from semclust.validation.evaluate.compare import ami, cooccurrence, hungarian_column_order
from semclust.validation.evaluate.plots import plot_cooccurrence


def _run(ids, labels):
    return pd.DataFrame({"id": ids, "cluster": labels, "probability": 1.0})


@pytest.fixture
def runs():
    rng = np.random.default_rng(0)
    ids = [f"img{i:03d}" for i in range(120)]
    text = rng.integers(0, 4, size=120)
    image = np.where(rng.random(120) < 0.6, text, rng.integers(0, 5, size=120))
    image[:6] = -1
    return ids, text, image


def test_ami_equals_sklearn_and_is_symmetric(runs):
    ids, text, image = runs
    a, b = _run(ids, text), _run(ids, image)
    expected = adjusted_mutual_info_score(text, image, average_method="max")
    assert ami(a, b) == pytest.approx(expected, abs=1e-12)
    assert ami(b, a) == pytest.approx(ami(a, b), abs=1e-12)


def test_ami_aligns_by_id_not_by_row(runs):
    ids, text, image = runs
    shuffled = _run(ids, image).sample(frac=1.0, random_state=1)
    assert ami(_run(ids, text), shuffled) == pytest.approx(adjusted_mutual_info_score(text, image, average_method="max"))
    as_series = pd.Series(image, index=ids)[::-1]
    assert ami(_run(ids, text), as_series) == pytest.approx(adjusted_mutual_info_score(text, image, average_method="max"))


def test_drop_outliers(runs):
    ids, text, image = runs
    keep = image != -1
    expected = adjusted_mutual_info_score(text[keep], image[keep], average_method="max")
    assert ami(_run(ids, text), _run(ids, image), drop_outliers=True) == pytest.approx(expected)


def test_known_permutation_lands_on_the_diagonal():
    # b renames a's clusters 0 -> 2, 1 -> 0, 2 -> 1; rows of b are in another order
    a = pd.Series([0, 0, 0, 1, 1, 2], index=list("uvwxyz"))
    b = pd.Series([2, 2, 2, 0, 0, 1], index=list("uvwxyz")).iloc[[5, 3, 0, 1, 4, 2]]
    table = cooccurrence(a, b, names=("text", "image"))
    assert list(table.columns) == [2, 0, 1]
    np.testing.assert_allclose(table.to_numpy(), np.diag([3, 2, 1]) / 6)
    assert (table.index.name, table.columns.name) == ("text", "image")
    assert ami(a, b) == pytest.approx(1.0)


def test_counts_and_extra_columns_go_after_the_matches():
    a = pd.Series([0, 0, 1, 1, 1], index=list("abcde"))
    b = pd.Series([7, 7, 3, 3, 5], index=list("abcde"))
    table = cooccurrence(a, b, normalize=False)
    assert list(table.columns) == [7, 3, 5]
    np.testing.assert_array_equal(table.to_numpy(), [[2, 0, 0], [0, 2, 1]])


def test_hungarian_order_maximises_the_diagonal():
    counts = np.random.default_rng(3).integers(0, 20, size=(5, 5))
    order = hungarian_column_order(counts)
    best = max(np.trace(counts[:, list(p)]) for p in itertools.permutations(range(5)))
    assert np.trace(counts[:, order]) == best
    assert sorted(order) == list(range(5))


@pytest.mark.parametrize(
    ("b", "message"),
    [
        (pd.Series([0, 1, 1], index=["a", "b", "z"]), "different items"),
        (pd.Series([0, 1, 1], index=["a", "b", "b"]), "'b' appears more than once"),
        (pd.DataFrame({"id": ["a", "b", "c"]}), "no column 'cluster'"),
        ([0, 1, 1], "must be a Series"),
        (pd.Series([0, 1, np.nan], index=["a", "b", "c"]), "row 2"),
    ],
)
def test_bad_labelings(b, message):
    a = pd.Series([0, 1, 1], index=["a", "b", "c"])
    with pytest.raises(SemclustError, match=message):
        ami(a, b)


def test_heatmap_draws_the_hungarian_ordered_table(runs, tmp_path, monkeypatch):
    figures = capture_figures(monkeypatch)
    ids, text, image = runs
    table = cooccurrence(_run(ids, text), _run(ids, image), names=("text", "image"))
    path = plot_cooccurrence(table, tmp_path / "heat.png", title="text x image")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = figures[0].axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), table.to_numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in table.columns]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("image", "text")
    cells = [t.get_text() for t in ax.texts]
    assert cells[0] == f"{100 * table.iloc[0, 0]:.1f}"  # shares printed as percentages
    counts = cooccurrence(_run(ids, text), _run(ids, image), normalize=False)
    plot_cooccurrence(counts, tmp_path / "counts.png")
    assert [t.get_text() for t in figures[1].axes[0].texts][0] == f"{counts.iloc[0, 0]:g}"
