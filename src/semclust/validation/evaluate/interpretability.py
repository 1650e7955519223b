"""Scoring the interpretability test (Arminio et al. 2024, section 2 and 3.2).

Evaluators see small sets of images, each drawn from one cluster, and assign every set to
one of the cluster descriptions (keywords) without knowing where it came from. A
clustering is interpretable when they pick the right description. The paper takes the
majority label of three evaluators (ties: the first evaluator), reports per-cluster
precision and recall, overall accuracy, the mean pairwise Cohen's kappa, the chance
level 1/(number of clusters), and the accuracy after merging clusters whose
descriptions are near duplicates.

The input is a table with ``set_id``, ``true_cluster`` (the cluster the set was drawn
from) and one column per evaluator holding the cluster each evaluator chose::

    set_id,true_cluster,ann,bob,cem
    s01,4,4,4,4
    s02,4,19,4,24
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from semclust.validation.evaluate.agreement import majority_vote, pairwise_kappa
from semclust.validation.evaluate.codes import EvaluationInputError, _first, _plain


@dataclass(frozen=True)
class InterpretabilityResult:
    """Scores of an interpretability test.

    Attributes
    ----------
    accuracy : float
        Share of sets whose majority label is their true cluster.
    mean_precision, mean_recall : float
        Unweighted means over all clusters offered (as the paper's .83 and .83).
    chance : float
        1 / number of clusters offered: the precision and recall of random guessing.
    mean_kappa : float
        Mean Cohen's kappa over pairs of evaluators (NaN with one evaluator).
    merged_accuracy : float or None
        Accuracy with the given clusters merged (None when none were given).
    n_sets : int
    n_tied : int
        Sets without a majority, labelled by the first evaluator.
    per_cluster : pandas.DataFrame
        ``cluster``, ``precision``, ``recall`` (0 where undefined, as in the paper's
        Table 3), ``n_sets`` (drawn from it), ``n_assigned`` (labelled with it).
    confusion : pandas.DataFrame
        Sets by true cluster (rows) and majority label (columns).
    majority : pandas.Series
        Majority label per ``set_id``.
    kappa : pandas.DataFrame
        Cohen's kappa per pair of evaluators.
    """

    accuracy: float
    mean_precision: float
    mean_recall: float
    chance: float
    mean_kappa: float
    merged_accuracy: float | None
    n_sets: int
    n_tied: int
    per_cluster: pd.DataFrame
    confusion: pd.DataFrame
    majority: pd.Series
    kappa: pd.DataFrame

    def to_dict(self) -> dict:
        """Plain types for JSON: scalars, tables as lists of records."""
        scalars = (
            "accuracy mean_precision mean_recall chance mean_kappa merged_accuracy n_sets n_tied"
        ).split()
        return {name: getattr(self, name) for name in scalars} | {
            "per_cluster": self.per_cluster.to_dict(orient="records"),
            "confusion": self.confusion.reset_index().to_dict(orient="records"),
            "kappa": self.kappa.to_dict(orient="records"),
        }


def score_interpretability(
    table: pd.DataFrame,
    *,
    evaluators: Sequence[str] | None = None,
    clusters: Sequence | None = None,
    merge: Sequence[tuple] = (),
) -> InterpretabilityResult:
    """Score evaluators' assignments of image sets to cluster descriptions.

    Parameters
    ----------
    table : DataFrame
        ``set_id``, ``true_cluster`` and one column per evaluator (empty = skipped).
    evaluators : sequence of str, optional
        The evaluator columns, first evaluator first; default: every other column.
    clusters : sequence, optional
        Every cluster whose description was offered (sets the chance level and the
        clusters averaged over); default: the true clusters of the sets.
    merge : sequence of pairs
        Clusters to treat as one for ``merged_accuracy``, e.g. ``[(22, 27), (23, 29)]``;
        chains merge transitively. Labels are merged before the majority vote.

    Raises
    ------
    EvaluationInputError
        Missing columns, no evaluator, an empty cluster list, a duplicated or missing
        set id, a set no evaluator labelled, or a label that is not a cluster offered.
    """
    table, evaluators = _check_table(table, evaluators)
    labels = _as_labels(table, ["true_cluster", *evaluators], clusters)
    clusters = _clusters(labels, clusters)
    _check_labels(labels, evaluators, clusters)
    truth = labels["true_cluster"].tolist()
    majority, tied = majority_vote(labels[evaluators])
    predicted = majority.tolist()
    precision, recall, _, support = precision_recall_fscore_support(
        truth, predicted, labels=clusters, zero_division=0
    )
    confusion = confusion_matrix(truth, predicted, labels=clusters)
    kappa = pairwise_kappa(labels[evaluators]) if len(evaluators) > 1 else _no_kappa()
    return InterpretabilityResult(
        accuracy=float(accuracy_score(truth, predicted)),
        mean_precision=float(precision.mean()),
        mean_recall=float(recall.mean()),
        chance=1 / len(clusters),
        mean_kappa=float(kappa["kappa"].mean()),
        merged_accuracy=_merged_accuracy(labels, evaluators, clusters, merge) if merge else None,
        n_sets=len(truth),
        n_tied=int(tied.sum()),
        per_cluster=pd.DataFrame(
            {
                "cluster": clusters,
                "precision": precision,
                "recall": recall,
                "n_sets": support,
                "n_assigned": confusion.sum(axis=0),
            }
        ),
        confusion=pd.DataFrame(
            confusion,
            index=pd.Index(clusters, name="true_cluster"),
            columns=pd.Index(clusters, name="assigned"),
        ),
        majority=pd.Series(predicted, index=pd.Index(table["set_id"], name="set_id")),
        kappa=kappa,
    )


def _check_table(table: pd.DataFrame, evaluators: Sequence[str] | None):
    """The table with a 0..n-1 index and the evaluator columns, or a clear error."""
    if not isinstance(table, pd.DataFrame):
        raise EvaluationInputError(
            f"the test table must be a DataFrame, not {type(table).__name__}"
        )
    missing = [c for c in ("set_id", "true_cluster") if c not in table.columns]
    if missing:
        raise EvaluationInputError(
            f"the test table lacks the column(s) {missing}; it has {list(table.columns)}"
        )
    if table.empty:
        raise EvaluationInputError("the test table has no rows: no image set was assigned")
    if evaluators is None:
        evaluators = [c for c in table.columns if c not in ("set_id", "true_cluster")]
    evaluators = list(evaluators)
    if not evaluators:
        raise EvaluationInputError("the test table has no evaluator column")
    unknown = [e for e in evaluators if e not in table.columns]
    if unknown:
        raise EvaluationInputError(f"evaluator column(s) {unknown} not in the test table")
    table = table.reset_index(drop=True)
    for column, problem in (("set_id", "no set_id"), ("true_cluster", "no true_cluster")):
        if (row := _first(table[column].isna())) is not None:
            raise EvaluationInputError(f"test table row {row} has {problem}")
    if (row := _first(table["set_id"].duplicated())) is not None:
        raise EvaluationInputError(
            f"test table row {row}: set_id {_plain(table['set_id'].iloc[row])!r} appears twice"
        )
    return table, evaluators


def _as_labels(table: pd.DataFrame, columns: list[str], clusters: Sequence | None):
    """Label columns in one type: ints when every label is a whole number, else text.

    A CSV column with an empty cell reads as floats (4.0), and cluster names may be text;
    one type lets 4, 4.0 and "4" mean the same cluster.
    """
    extra = pd.Series([] if clusters is None else list(clusters), dtype=object)
    values = pd.concat([table[c] for c in columns] + [extra])
    numbers = pd.to_numeric(values.dropna(), errors="coerce")
    whole = numbers.notna().all() and bool((numbers % 1 == 0).all())
    convert = (lambda v: int(float(v))) if whole else str
    return table[columns].apply(lambda col: col.map(convert, na_action="ignore"))


def _clusters(labels: pd.DataFrame, clusters: Sequence | None) -> list:
    if clusters is None:
        return sorted(labels["true_cluster"].unique().tolist())
    if len(clusters) == 0:
        raise EvaluationInputError("the cluster list is empty: give the clusters offered")
    converted = _as_labels(pd.DataFrame({"c": list(clusters)}), ["c"], clusters)["c"].tolist()
    if len(set(converted)) != len(converted):
        raise EvaluationInputError(f"the cluster list {list(clusters)} repeats a cluster")
    return converted


def _check_labels(labels: pd.DataFrame, evaluators: list[str], clusters: list) -> None:
    """Every label is a cluster offered; every set has at least one evaluator's label."""
    offered = set(clusters)
    for column in ["true_cluster", *evaluators]:
        stray = labels[column].notna() & ~labels[column].isin(offered)
        if (row := _first(stray)) is not None:
            raise EvaluationInputError(
                f"test table row {row}, column {column!r}: {_plain(labels[column].iloc[row])!r}"
                f" is not among the clusters offered {clusters}"
            )
    if (row := _first(labels[evaluators].isna().all(axis=1))) is not None:
        raise EvaluationInputError(f"test table row {row}: no evaluator labelled this set")


def _merged_accuracy(
    labels: pd.DataFrame, evaluators: list[str], clusters: list, merge: Sequence[tuple]
) -> float:
    """Accuracy once each group of merged clusters is one label (merged before voting)."""
    index = {cluster: i for i, cluster in enumerate(clusters)}
    if any(len(pair) != 2 for pair in merge):
        raise EvaluationInputError(f"merge must be pairs of clusters, got {list(merge)}")
    merge_labels = _as_labels(pd.DataFrame(list(merge), columns=["a", "b"]), ["a", "b"], clusters)
    for a, b in merge_labels.itertuples(index=False):
        if a not in index or b not in index:
            raise EvaluationInputError(f"merge pair ({a!r}, {b!r}) names a cluster not offered")
    ends = merge_labels.map(index.get).to_numpy(dtype=int)
    graph = coo_matrix((np.ones(len(ends)), (ends[:, 0], ends[:, 1])), shape=(len(index),) * 2)
    _, group = connected_components(graph, directed=False)
    merged = labels.apply(lambda col: col.map(lambda v: group[index[v]], na_action="ignore"))
    majority, _ = majority_vote(merged[evaluators])
    return float(accuracy_score(merged["true_cluster"].tolist(), majority.tolist()))


def _no_kappa() -> pd.DataFrame:
    """The kappa table of a single evaluator: no pairs, so a NaN mean."""
    return pd.DataFrame(columns=["coder_a", "coder_b", "n_items", "kappa"], dtype=float)
