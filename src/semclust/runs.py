"""A run's folder ``STUDY/runs/<run-id>/``: what it holds and how it is read back.

Files: ``config.json``, ``assignments.csv`` and ``.parquet``, ``clusters.csv``,
``coords.npy`` (the 2-D map), ``reduced.npy`` (the space clustered in), ``report.html``.
``runs/LATEST`` names the newest run (and ``runs/latest`` links to it where the
file system allows), so every command accepts ``latest`` as a run id.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SemclustError
from .keywords_format import parse_keywords, render_keywords

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
            return folder
        except FileExistsError:
            continue
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
    if not (folder / "config.json").exists():
        known = sorted(p.name for p in base.glob("*") if (p / "config.json").exists()) if base.exists() else []
        raise SemclustError(f"no run {run_id!r} in {study_folder}; runs: {', '.join(known) or 'none'}")
    return folder


def mark_latest(folder: Path) -> None:
    base = folder.parent
    (base / "LATEST").write_text(folder.name + "\n")
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

    @property
    def id(self) -> str:
        return self.folder.name

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config.json").write_text(json.dumps(self.config, indent=2, default=str))
        self.assignments.to_csv(self.folder / "assignments.csv", index=False)
        self.assignments.to_parquet(self.folder / "assignments.parquet", index=False)
        if self.clusters is not None:
            table = self.clusters.copy()
            table["keywords"] = [render_keywords(k) for k in table["keywords"]]
            table.to_csv(self.folder / "clusters.csv", index=False)
        for name, array in (("coords", self.coords), ("reduced", self.reduced)):
            if array is not None:
                np.save(self.folder / f"{name}.npy", array)
        if self.metrics is not None:
            (self.folder / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=str))

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
