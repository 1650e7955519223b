"""Edits of a clustering: rename, merge, split, move, drop, and reduce the outliers.

An edit is a plain dict (``{"op": "merge", "clusters": [3, 7]}``) so that a run's
``config.json`` can list the edits that made it and any run can be replayed from its
root run. :func:`apply_edits` works on arrays only (labels, membership strengths, the
reduced space) and is deterministic for a seed.

Cluster numbers are stable: a merge keeps the first cluster's number, a split keeps the
number for its largest part and gives the other parts new numbers above the largest in
use, so the numbers a user typed keep meaning the same cluster across edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from semclust.core.errors import SemclustError

OUTLIER = -1
OPS = ("name", "merge", "split", "move", "drop", "outliers")
OUTLIER_METHODS = ("nearest", "soft")


class EditError(SemclustError, ValueError):
    """An edit that cannot be applied; the message names the edit and the reason."""


@dataclass
class Clustering:
    """What the edits change: one label and strength per clustered item, and the names."""

    ids: list[str]
    labels: np.ndarray
    probability: np.ndarray
    reduced: np.ndarray
    names: dict[int, dict[str, str]] = field(default_factory=dict)

    def clusters(self) -> set[int]:
        return {int(c) for c in np.unique(self.labels) if c != OUTLIER}

    def require(self, cluster: int, edit: dict) -> np.ndarray:
        members = np.flatnonzero(self.labels == cluster)
        if cluster == OUTLIER or not len(members):
            known = ", ".join(map(str, sorted(self.clusters()))) or "none"
            raise EditError(f"{describe_edit(edit)}: there is no cluster {cluster} (clusters: {known})")
        return members


def describe_edit(edit: dict) -> str:
    """A short human reading of an edit, for messages and the app's history."""
    op = edit.get("op")
    if op == "name":
        return f"name cluster {edit.get('cluster')} {edit.get('name', '')!r}"
    if op == "merge":
        return "merge clusters " + ", ".join(map(str, edit.get("clusters", [])))
    if op == "split":
        return f"split cluster {edit.get('cluster')} with {edit.get('clusterer')}"
    if op == "move":
        return f"move {len(edit.get('ids', []))} item(s) to cluster {edit.get('cluster')}"
    if op == "drop":
        return f"drop cluster {edit.get('cluster')} to the outliers"
    if op == "outliers":
        return f"assign outliers ({edit.get('method')}) down to {edit.get('target')} share"
    return f"unknown edit {op!r}"


def check_edit(edit: dict) -> dict:
    """The edit with its fields type-checked, or an :class:`EditError` saying what is wrong."""
    if not isinstance(edit, dict) or edit.get("op") not in OPS:
        raise EditError(f"an edit must be a dict whose 'op' is one of {', '.join(OPS)}; got {edit!r}")
    op = edit["op"]
    try:
        if op == "name":
            out = {"op": op, "cluster": _cluster(edit["cluster"]), "name": str(edit.get("name", "")).strip()}
            if edit.get("summary"):
                out["summary"] = str(edit["summary"]).strip()
            if edit.get("by"):
                out["by"] = str(edit["by"])
            return out
        if op == "merge":
            clusters = [_cluster(c) for c in edit["clusters"]]
            if len(set(clusters)) < 2:
                raise EditError(f"merge needs at least two different clusters, got {clusters}")
            return {"op": op, "clusters": clusters}
        if op == "split":
            return {"op": op, "cluster": _cluster(edit["cluster"]), "clusterer": str(edit["clusterer"])}
        if op == "move":
            ids = [str(i) for i in edit["ids"]]
            if not ids:
                raise EditError("move needs at least one item id")
            return {"op": op, "ids": ids, "cluster": _cluster(edit["cluster"], allow_outlier=True)}
        if op == "drop":
            return {"op": op, "cluster": _cluster(edit["cluster"])}
        method, target = str(edit["method"]), float(edit["target"])
        if method not in OUTLIER_METHODS:
            raise EditError(f"outliers method must be one of {', '.join(OUTLIER_METHODS)}, got {method!r}")
        if not 0 <= target < 1:
            raise EditError(f"outliers target share must be in [0, 1), got {target}")
        return {"op": op, "method": method, "target": target}
    except KeyError as exc:
        raise EditError(f"{op} edit lacks the field {exc.args[0]!r}: {edit!r}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, EditError):
            raise
        raise EditError(f"bad {op} edit {edit!r}: {exc}") from None


def _cluster(value, allow_outlier: bool = False) -> int:
    if isinstance(value, bool):
        raise EditError(f"a cluster number must be an integer, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise EditError(f"a cluster number must be an integer, got {value!r}") from None
    if number < (OUTLIER if allow_outlier else 0):
        raise EditError(f"cluster number {number} is not a cluster")
    return number


def apply_edits(state: Clustering, edits: list[dict], *, seed: int = 0,
                base_clusterer: str | None = None) -> Clustering:
    """Apply ``edits`` in order to a copy of ``state``.

    ``base_clusterer`` is the run's own clusterer spec, needed by the ``soft`` outlier
    method (HDBSCAN's soft membership is computed by refitting it on the reduced space).
    """
    out = Clustering(list(state.ids), state.labels.copy(), state.probability.astype(float).copy(),
                     state.reduced, {k: dict(v) for k, v in state.names.items()})
    for raw in edits:
        edit = check_edit(raw)
        _APPLY[edit["op"]](out, edit, seed=seed, base_clusterer=base_clusterer)
    return out


def _name(state: Clustering, edit: dict, **_) -> None:
    state.require(edit["cluster"], edit)
    entry = state.names.setdefault(edit["cluster"], {})
    if edit["name"] or "summary" not in edit:
        entry["name"] = edit["name"]
    if "summary" in edit:
        entry["summary"] = edit["summary"]


def _merge(state: Clustering, edit: dict, **_) -> None:
    target, *others = edit["clusters"]
    for cluster in edit["clusters"]:
        state.require(cluster, edit)
    for cluster in others:
        moved = state.labels == cluster
        state.labels[moved] = target
        state.probability[moved] = np.nan
        if not state.names.get(target, {}).get("name") and cluster in state.names:
            state.names[target] = state.names[cluster]
        state.names.pop(cluster, None)


def _split(state: Clustering, edit: dict, *, seed: int, **_) -> None:
    from semclust.stages.cluster import create_clusterer
    from semclust.study.pipeline import relabel_by_size

    members = state.require(edit["cluster"], edit)
    clusterer = create_clusterer(edit["clusterer"], random_state=seed)
    n_wanted = getattr(clusterer, "n_clusters", None)
    if isinstance(n_wanted, int) and n_wanted > len(members):
        raise EditError(f"{describe_edit(edit)}: the cluster has only {len(members)} items")
    try:
        parts = relabel_by_size(np.asarray(clusterer.fit_predict(state.reduced[members]), dtype=int))
    except ValueError as exc:
        raise EditError(f"{describe_edit(edit)}: {exc}") from None
    next_number = max(state.clusters()) + 1
    new = np.where(parts == 0, edit["cluster"], np.where(parts < 0, OUTLIER, next_number + parts - 1))
    state.labels[members] = new
    state.probability[members] = np.nan


def _move(state: Clustering, edit: dict, **_) -> None:
    position = {item: i for i, item in enumerate(state.ids)}
    unknown = [i for i in edit["ids"] if i not in position]
    if unknown:
        raise EditError(f"{describe_edit(edit)}: not clustered in this run: {', '.join(unknown[:10])}")
    rows = np.array([position[i] for i in edit["ids"]], dtype=int)
    state.labels[rows] = edit["cluster"]
    state.probability[rows] = np.nan


def _drop(state: Clustering, edit: dict, **_) -> None:
    members = state.require(edit["cluster"], edit)
    state.labels[members] = OUTLIER
    state.probability[members] = np.nan
    state.names.pop(edit["cluster"], None)


def _outliers(state: Clustering, edit: dict, *, seed: int, base_clusterer: str | None) -> None:
    """Give outliers to clusters, most confident first, until their share is at most ``target``."""
    outliers = np.flatnonzero(state.labels == OUTLIER)
    n_move = len(outliers) - int(np.floor(edit["target"] * len(state.labels)))
    if n_move <= 0 or not state.clusters():
        return
    if edit["method"] == "nearest":
        cluster, confidence = _nearest_centroid(state, outliers)
    else:
        cluster, confidence = _soft_membership(state, outliers, seed, base_clusterer, edit)
    usable = np.flatnonzero(cluster >= 0)
    chosen = usable[np.argsort(-confidence[usable], kind="stable")[:n_move]]
    state.labels[outliers[chosen]] = cluster[chosen]
    state.probability[outliers[chosen]] = np.nan


def _nearest_centroid(state: Clustering, outliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid in the reduced space; confidence = minus the distance."""
    clusters = np.array(sorted(state.clusters()))
    centroids = np.vstack([state.reduced[state.labels == c].mean(axis=0) for c in clusters])
    distance = np.linalg.norm(state.reduced[outliers, None, :] - centroids[None, :, :], axis=2)
    return clusters[distance.argmin(axis=1)], -distance.min(axis=1)


def _soft_membership(state: Clustering, outliers: np.ndarray, seed: int,
                     base_clusterer: str | None, edit: dict) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN's soft membership (Campello et al.'s all-points vectors) mapped to today's clusters.

    The run's HDBSCAN is refitted on the reduced space with prediction data; each of its
    clusters stands for the current cluster that holds most of its members.
    """
    import hdbscan

    from semclust.stages.cluster import create_clusterer

    if not base_clusterer or not base_clusterer.startswith("hdbscan"):
        raise EditError(f"{describe_edit(edit)}: soft membership needs an hdbscan run, "
                        f"this run used {base_clusterer!r}; use nearest:SHARE")
    model = create_clusterer(base_clusterer, random_state=seed, prediction_data=True)
    refit = model.fit_predict(state.reduced)
    vectors = hdbscan.all_points_membership_vectors(model)
    if vectors.ndim == 1:
        vectors = vectors[:, None]
    mapping = np.full(vectors.shape[1], OUTLIER)
    for k in range(vectors.shape[1]):
        current = state.labels[(refit == k) & (state.labels != OUTLIER)]
        if len(current):
            values, counts = np.unique(current, return_counts=True)
            mapping[k] = values[np.argmax(counts)]
    best = vectors[outliers].argmax(axis=1)
    return mapping[best], vectors[outliers].max(axis=1)


_APPLY = {"name": _name, "merge": _merge, "split": _split, "move": _move, "drop": _drop,
          "outliers": _outliers}


def parse_cli_edits(*, names=(), summaries=(), merges=(), splits=(), moves=(), drops=(),
                    outliers: str | None = None) -> list[dict]:
    """The edits of one ``semclust refine`` command, in the order they are applied.

    Names and summaries first (they use the parent run's numbers), then merges, splits,
    moves, drops and last the outlier reduction.
    """
    edits: list[dict] = []
    for text in names:
        cluster, _, name = _split_once(text, "=", "--name", "CLUSTER=NAME")
        edits.append({"op": "name", "cluster": cluster, "name": name})
    for text in summaries:
        cluster, _, summary = _split_once(text, "=", "--summary", "CLUSTER=TEXT")
        edits.append({"op": "name", "cluster": cluster, "name": _pending_name(edits, cluster),
                      "summary": summary})
    edits += [{"op": "merge", "clusters": text.split(",")} for text in merges]
    for text in splits:
        cluster, _, clusterer = _split_once(text, ":", "--split", "CLUSTER:CLUSTERER, e.g. 5:kmeans:2")
        edits.append({"op": "split", "cluster": cluster, "clusterer": clusterer})
    for text in moves:
        ids, _, cluster = text.rpartition(":")
        if not ids:
            raise EditError(f"--move wants ID,ID,...:CLUSTER, got {text!r}")
        edits.append({"op": "move", "ids": [i.strip() for i in ids.split(",") if i.strip()], "cluster": cluster})
    edits += [{"op": "drop", "cluster": text} for text in drops]
    if outliers:
        method, _, target = _split_once(outliers, ":", "--outliers", "nearest:SHARE or soft:SHARE")
        edits.append({"op": "outliers", "method": method, "target": target})
    return [check_edit(e) for e in edits]


def _split_once(text: str, sep: str, option: str, form: str) -> tuple[str, str, str]:
    head, found, tail = text.partition(sep)
    if not found or not head.strip() or not tail.strip():
        raise EditError(f"{option} wants {form}, got {text!r}")
    return head.strip(), found, tail.strip()


def _pending_name(edits: list[dict], cluster: str) -> str:
    """A --summary alone keeps the name a --name in the same command gave (else none)."""
    named = [e["name"] for e in edits if e["op"] == "name" and str(e["cluster"]) == cluster]
    return named[-1] if named else ""
