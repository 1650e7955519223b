"""A run's folder ``STUDY/runs/<run-id>/``: what it holds and how it is read back.

Files: ``config.json``, ``assignments.csv`` and ``.parquet``, ``clusters.csv``,
``coords.npy`` (the 2-D map), ``reduced.npy`` (the space clustered in), ``report.html``.
``runs/LATEST`` names the newest run (and ``runs/latest`` links to it where the
file system allows), so every command accepts ``latest`` as a run id.

A crash must never leave a run that looks valid with broken files. A new run's folder
holds the marker ``.incomplete`` until :func:`mark_latest` declares it finished (the
marker goes, then ``LATEST`` moves), and every file is written to a temporary name and
renamed into place, so each file is either its old or its new self. A run with the
marker is refused by :func:`resolve_run`; ``LATEST`` only ever names a finished run.
Runs written before the marker existed have none and are read as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.stages.keywords_format import parse_keywords, render_keywords

TRACKED_PACKAGES = ("semclust", "numpy", "pandas", "scikit-learn", "umap-learn", "hdbscan",
                    "sentence-transformers", "torch", "httpx")


def package_versions() -> dict[str, str]:
    found = {}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def new_run_id(config: dict) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:6]
    return f"{stamp}-{digest}"


#: Present in a run folder from its creation until the run is finished.
INCOMPLETE_MARKER = ".incomplete"


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(text))


def is_complete(folder: Path) -> bool:
    return (folder / "config.json").exists() and not (folder / INCOMPLETE_MARKER).exists()


def runs_folder(study_folder: Path) -> Path:
    return Path(study_folder) / "runs"


def new_run_folder(study_folder: Path, config: dict) -> Path:
    """A fresh ``runs/<id>`` folder; two runs started within one second get ``-2``, ``-3``, ... suffixes."""
    base = runs_folder(study_folder)
    base.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(config)
    for attempt in range(1, 1000):
        folder = base / (run_id if attempt == 1 else f"{run_id}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        (folder / INCOMPLETE_MARKER).write_text("written by a run that has not finished\n")
        return folder
    raise SemclustError(f"cannot create a new run folder under {base}")


def resolve_run(study_folder: Path, run_id: str = "latest") -> Path:
    """The folder of ``run_id`` (``latest`` = newest), or a clear error listing the runs there are."""
    base = runs_folder(study_folder)
    if run_id == "latest":
        pointer = base / "LATEST"
        if not pointer.exists():
            raise SemclustError(f"{study_folder} has no runs yet: run `semclust cluster` or `semclust run`")
        run_id = pointer.read_text().strip()
    folder = base / run_id
    if (folder / INCOMPLETE_MARKER).exists():
        raise SemclustError(f"run {run_id!r} in {study_folder} never finished (it stopped or crashed "
                            "while being written); run `semclust cluster` again")
    if not is_complete(folder):
        known = sorted(p.name for p in base.glob("*") if is_complete(p)) if base.exists() else []
        raise SemclustError(f"no run {run_id!r} in {study_folder}; runs: {', '.join(known) or 'none'}")
    return folder


def mark_latest(folder: Path) -> None:
    """Declare the run in ``folder`` finished, then make it the one ``latest`` names."""
    if not (folder / "config.json").exists():
        raise SemclustError(f"{folder} holds no saved run")
    (folder / INCOMPLETE_MARKER).unlink(missing_ok=True)
    base = folder.parent
    write_text_atomically(base / "LATEST", folder.name + "\n")
    link = base / "latest"
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(folder.name, link, target_is_directory=True)
    except OSError:
        pass  # e.g. Windows without symlink rights: LATEST is enough


@dataclass
class Run:
    """A run in memory; ``save`` and ``load`` round-trip it through its folder."""

    folder: Path
    config: dict
    assignments: pd.DataFrame
    clusters: pd.DataFrame | None = None
    coords: np.ndarray | None = None
    reduced: np.ndarray | None = None
    metrics: dict | None = None
    #: The study the run belongs to, set by ``Study.cluster``/``Study.load_run``; ``transform`` needs it.
    study: Any = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.folder.name

    def save(self) -> None:
        """Write every file of the run, each atomically; ``config.json`` last."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / "assignments.csv", lambda p: self.assignments.to_csv(p, index=False))
        write_atomically(self.folder / "assignments.parquet",
                         lambda p: self.assignments.to_parquet(p, index=False))
        for name, array in (("coords", self.coords), ("reduced", self.reduced)):
            if array is not None:
                write_atomically(self.folder / f"{name}.npy", lambda p, a=array: _save_npy(p, a))
        if self.metrics is not None:
            write_text_atomically(self.folder / "metrics.json", json.dumps(self.metrics, indent=2, default=str))
        self.save_labels()

    def save_labels(self) -> None:
        """Write ``clusters.csv`` and ``config.json`` only: labelling never rewrites the assignments."""
        if self.clusters is not None:
            table = self.clusters.copy()
            table["keywords"] = [render_keywords(k) for k in table["keywords"]]
            write_atomically(self.folder / "clusters.csv", lambda p: table.to_csv(p, index=False))
        write_text_atomically(self.folder / "config.json", json.dumps(self.config, indent=2, default=str))

    @classmethod
    def load(cls, study_folder: Path, run_id: str = "latest") -> Run:
        folder = resolve_run(study_folder, run_id)
        config = json.loads((folder / "config.json").read_text())
        assignments = pd.read_parquet(folder / "assignments.parquet")
        clusters = None
        if (folder / "clusters.csv").exists():
            clusters = pd.read_csv(folder / "clusters.csv", keep_default_na=False)
            clusters["keywords"] = [parse_keywords(k) for k in clusters["keywords"]]
        arrays = {name: np.load(folder / f"{name}.npy") if (folder / f"{name}.npy").exists() else None
                  for name in ("coords", "reduced")}
        metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else None
        return cls(folder, config, assignments, clusters, arrays["coords"], arrays["reduced"], metrics)

    def clustered(self) -> pd.DataFrame:
        """Rows that took part in clustering (cluster is -1 or a cluster id, not missing)."""
        return self.assignments[self.assignments["cluster"].notna()]

    # --- notebooks ----------------------------------------------------------
    def cluster(self, number: int):
        """One cluster (``-1`` = the outliers) as a :class:`~semclust.study.notebook_view.ClusterView`."""
        from semclust.study.notebook_view import ClusterView

        rows = self.clustered()
        members = rows[rows["cluster"].astype(int) == number]
        if members.empty:
            known = sorted(set(rows["cluster"].astype(int)))
            raise SemclustError(f"run {self.id} has no cluster {number}; clusters: {known}")
        info = {}
        if self.clusters is not None:
            match = self.clusters[self.clusters["cluster"] == number]
            info = match.iloc[0].to_dict() if len(match) else {}
        name = info.get("name")
        return ClusterView(number, members, info.get("keywords") or [],
                           "" if name is None or pd.isna(name) else str(name), self.id)

    def _summary(self) -> str:
        m = self.metrics or {}
        parts = [f"{len(self.assignments)} items"]
        if "n_clusters" in m:
            parts.append(f"{m['n_clusters']} clusters")
        if "outlier_share" in m:
            parts.append(f"{m['outlier_share']:.0%} outliers")
        return ", ".join(parts)

    def _html(self, per_cluster: int, max_clusters: int | None) -> str:
        from semclust.study.notebook_view import clusters_html

        return clusters_html(self.assignments, self.clusters, per_cluster=per_cluster, max_clusters=max_clusters,
                             heading=f"run {self.id}", summary=self._summary())

    def _repr_html_(self) -> str:
        return self._html(per_cluster=8, max_clusters=12)

    def __repr__(self) -> str:
        return f"<Run {self.id}: {self._summary()}>"

    def show(self, per_cluster: int = 12, max_clusters: int | None = None) -> None:
        """Every cluster inline as an image grid with its keywords (a text line outside notebooks)."""
        from semclust.study.notebook_view import display_html

        display_html(self._html(per_cluster, max_clusters), repr(self))

    def analyze(self, by: str | None = None, **options):
        """Findings of this run: shares by group/period, differences, outcome effects.

        See :func:`semclust.study.findings.analyze_run` for the options; returns an
        :class:`~semclust.study.findings.AnalysisResult` (``.save(run.folder / "analysis")``).
        """
        from semclust.study.findings import analyze_run

        return analyze_run(self, by=by, **options)

    def transform(self, data, **options) -> pd.DataFrame:
        """Assign new items to this run's clusters; see :meth:`semclust.study.workspace.Study.transform`."""
        if self.study is None:
            raise SemclustError("this run was loaded without its study: use "
                                "semclust.Study(FOLDER).load_run(RUN_ID).transform(...)")
        return self.study.transform(self, data, **options)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # a file object, so numpy does not append ".npy" to the temp name
        np.save(handle, array)
