"""Data-loss curve: a hand-worked labeling, bad input, the plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from figure_capture import capture_figures, line_data
from semclust.core.errors import SemclustError
from semclust.validation.evaluate.dataloss import data_loss_curve
from semclust.validation.evaluate.plots import plot_data_loss

# 10 items: cluster 0 has 3, clusters 1 and 3 have 2 each, cluster 2 has 1, 2 outliers.
# Keeping the top k (ties: smaller id first) keeps 3, 5, 7, 8 items -> loss .7 .5 .3 .2
LABELS = [0, 0, 0, 1, 1, 2, -1, -1, 3, 3]


def test_hand_worked_curve():
    curve = data_loss_curve(LABELS)
    assert curve.n_items == 10
    assert curve.outlier_share == pytest.approx(0.2)
    assert list(curve.table["k"]) == [1, 2, 3, 4]
    assert list(curve.table["cluster"]) == [0, 1, 3, 2]
    assert list(curve.table["size"]) == [3, 2, 2, 1]
    assert list(curve.table["kept"]) == [3, 5, 7, 8]
    assert list(curve.table["data_loss"]) == pytest.approx([0.7, 0.5, 0.3, 0.2])


def test_without_outliers_keeping_all_loses_nothing():
    curve = data_loss_curve(pd.Series([5, 5, 7, 9, 9, 9], name="cluster"))
    assert curve.outlier_share == 0.0
    assert curve.table["data_loss"].iloc[-1] == 0.0
    assert list(curve.table["cluster"]) == [9, 5, 7]


@pytest.mark.parametrize(
    ("labels", "message"),
    [([], "empty"), ([-1, -1], "all 2 items are outliers"), ([0, "x"], "row 1 holds 'x'")],
)
def test_bad_labels(labels, message):
    with pytest.raises(SemclustError, match=message):
        data_loss_curve(labels)


def test_plot_draws_one_curve_per_run_in_percent(tmp_path, monkeypatch):
    figures = capture_figures(monkeypatch)
    curves = {"label-level": data_loss_curve(LABELS).table, "joint": data_loss_curve([0, 1]).table}
    path = plot_data_loss(curves, tmp_path / "loss.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (ax,) = figures[0].axes
    drawn = line_data(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["label-level", "joint"]
    for (k, loss), table in zip(drawn, curves.values(), strict=True):
        np.testing.assert_array_equal(k, table["k"])
        np.testing.assert_allclose(loss, 100 * table["data_loss"])
