"""Grid search over pipeline settings: embedders x reducers x clusterers x seeds.

Arminio et al. (appendix A, Figures 3 and 6) and Casas et al. (section 2.4, Figures 5
and 7) chose their pipelines by running every combination of settings and scoring each
one against coded image pairs. :func:`run_grid` does that on a study without repeating
work: each embedding comes from the study's cache, each reduction is computed once and
saved (``reductions/*.npy``) for every clusterer that uses it, clusterings run in
parallel, and every finished setting is written at once (``settings/<id>.json`` and a
row of ``results.csv``), so an interrupted grid continues where it stopped.

The grid file is read by :mod:`semclust.validation.grid_file`; settings are scored by
:mod:`semclust.validation.grid_scoring`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.stages.cluster import create_clusterer
from semclust.stages.reduce import create_reducer
from semclust.validation.grid_file import Embedder, Grid, Setting
from semclust.validation.grid_scoring import (
    CODE_SCORES,
    CRITERIA,
    SCORE_COLUMNS,
    TEXT_COLUMNS,
    Scorer,
    ScoringOptions,
    best_setting,
    choose_criterion,
    digest,
)

if TYPE_CHECKING:
    from semclust.study.runs import Run
    from semclust.study.workspace import Study

log = logging.getLogger(__name__)

SETTING_COLUMNS = ["setting_id", "embedder", "route", "reducer", "clusterer", "seed"]
COLUMNS = SETTING_COLUMNS + SCORE_COLUMNS
#: Part of every setting's id: settings scored by an older version are computed again.
#: 2: internal indices in the embedding space, pair scores on all and on clustered pairs.
SCORES_VERSION = 2


class SettingDoesNotFit(SemclustError):
    """A setting asks for more clusters, components or members than the data have.

    The one failure that is recorded in the setting's row while the grid goes on; any
    other error stops the grid with its traceback in the log.
    """


class GridStopped(KeyboardInterrupt):
    """SIGTERM (e.g. from a job scheduler) reached the grid's main process."""


@dataclass
class GridOutcome:
    """What :func:`run_grid` did: the results table and how much of it was new."""

    folder: Path
    results: pd.DataFrame
    n_skipped: int
    n_computed: int
    n_rescored: int
    n_reductions: int
    plots: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time: embed, reduce, cluster


def grid_folder(study_folder: str | os.PathLike, name: str) -> Path:
    return Path(study_folder) / "grids" / name


def run_grid(
    study: Study,
    grid: Grid,
    scoring: ScoringOptions | None = None,
    *,
    n_jobs: int = -1,
    progress: bool = True,
    plots: bool = True,
) -> GridOutcome:
    """Run every setting of ``grid`` not yet done on ``study``; write results and plots.

    ``n_jobs`` worker processes (joblib/loky; -1 = every core) compute the reductions of
    one embedder at a time, then the clusterings; the main process writes each result as
    it arrives. Settings already in ``STUDY/grids/<name>/settings`` are skipped; those
    scored with other codes or options are rescored from their saved labels.

    A setting that does not fit the data (:class:`SettingDoesNotFit`) is recorded with its
    reason; any other error stops the grid, logged with its traceback. SIGTERM and Ctrl-C
    stop the workers too (:class:`GridStopped` / ``KeyboardInterrupt``); finished settings
    stay saved.
    """
    from semclust.validation.grid_plots import write_plots

    scoring = scoring or ScoringOptions()
    folder = grid_folder(study.folder, grid.name)
    for sub in ("settings", "reductions"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "grid.json").write_text(json.dumps(asdict(grid), indent=2))
    scorer = Scorer(study, scoring)
    plan = _plan(study, grid)
    records = _load_records(folder, plan)
    n_rescored = _rescore(folder, plan, records, scorer)
    todo = [p for p in plan if p.setting_id not in records]
    log.info(
        "grid %s: %d settings, %d already done (skipped), %d to compute",
        grid.name, len(plan), len(plan) - len(todo), len(todo),
    )  # fmt: skip
    seconds: dict[str, float] = {}
    with _workers_stopped_on_exit(grid.name):
        n_reductions = _reduce_missing(study, folder, todo, n_jobs, progress, seconds)
        with _timed(seconds, "cluster"):
            _cluster_all(folder, todo, scorer, records, n_jobs, progress)
    log.info(
        "grid %s: seconds per phase %s", grid.name, {k: round(v, 1) for k, v in seconds.items()}
    )
    results = _results_table(plan, records)
    results.to_csv(folder / "results.csv", index=False)
    written = write_plots(results, folder) if plots else []
    return GridOutcome(
        folder,
        results,
        len(plan) - len(todo),
        len(todo),
        n_rescored,
        n_reductions,
        written,
        seconds,
    )


@contextmanager
def _workers_stopped_on_exit(name: str) -> Iterator[None]:
    """Turn SIGTERM into :class:`GridStopped`; whatever ends the grid early ends its workers.

    Without this a scheduler's SIGTERM kills only the main process and leaves the joblib
    workers computing. An unexpected error is logged with its traceback before it stops
    the grid.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        yield
    except KeyboardInterrupt:
        _kill_workers()
        raise
    except Exception:
        _kill_workers()
        log.exception("grid %s stopped by an unexpected error", name)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_stopped(signum: int, frame: Any) -> None:
    raise GridStopped(f"stopped by {signal.Signals(signum).name}")


def _kill_workers() -> None:
    """Kill joblib's reusable loky workers (they would finish their tasks otherwise)."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=False, kill_workers=True)


@contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    """Add the wall time of the block to ``seconds[phase]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start


@dataclass(frozen=True)
class _Planned:
    """A setting with the ids of its input, its reduction and itself (content-addressed)."""

    setting: Setting
    input_id: str
    reduction_id: str
    setting_id: str



def _plan(study: Study, grid: Grid) -> list[_Planned]:
    """Ids that change whenever the items, descriptions or images an embedder reads change."""
    routes = {e.route: _route_inputs(study, e.route) for e in grid.embedders}
    inputs = {e: digest(asdict(e), *routes[e.route]) for e in grid.embedders}
    plan = []
    for s in grid.settings():
        reduction = digest(inputs[s.embedder], s.reducer, s.seed)
        setting_id = digest(reduction, s.clusterer, SCORES_VERSION)
        plan.append(_Planned(s, inputs[s.embedder], reduction, setting_id))
    return plan


def _route_inputs(study: Study, route: str) -> tuple[list[str], list[str]]:
    """The ids a route embeds and a content key of each: the text's hash, or the image's."""
    from semclust.core.store import text_hash

    if route == "text":
        texts = study.descriptions().dropna()
        return texts.index.tolist(), [text_hash(t) for t in texts]
    usable = study.items().query("status == 'ok'")
    return usable["id"].tolist(), usable["sha256"].tolist()


def _load_records(folder: Path, plan: list[_Planned]) -> dict[str, dict]:
    records = {}
    for p in plan:
        path = folder / "settings" / f"{p.setting_id}.json"
        if path.exists():
            records[p.setting_id] = json.loads(path.read_text())
    return records


def _write_record(folder: Path, record: dict) -> None:
    path = folder / "settings" / f"{record['setting_id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=_plain))
    os.replace(tmp, path)  # a crash never leaves half a record behind


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def _reduce_missing(
    study: Study, folder: Path, todo: list[_Planned], n_jobs: int, progress: bool, seconds: dict
) -> int:
    """Compute the reductions ``todo`` needs that are not saved yet, one embedder at a time.

    Each embedder's vectors are saved too (``<input_id>.features.npy``): every setting is
    scored in that common space, whatever its reducer.
    """
    from joblib import Parallel, delayed

    missing: dict[str, dict[str, Setting]] = {}
    for p in todo:
        missing.setdefault(p.input_id, {})
        if not (folder / "reductions" / f"{p.reduction_id}.npy").exists():
            missing[p.input_id][p.reduction_id] = p.setting
    settings = {p.input_id: p.setting for p in todo}
    for input_id, reductions in missing.items():
        if not reductions and (folder / "reductions" / f"{input_id}.features.npy").exists():
            continue
        first = settings[input_id]
        with _timed(seconds, "embed"):
            ids, X = _features(study, first, progress)
        np.save(folder / "reductions" / f"{input_id}.ids.npy", np.asarray(ids, dtype=str))
        np.save(folder / "reductions" / f"{input_id}.features.npy", np.asarray(X, np.float32))
        log.info("%s: %d reductions of %d x %d", first.embedder.spec, len(reductions), *X.shape)
        with _timed(seconds, "reduce"):
            Parallel(n_jobs=n_jobs)(
                delayed(_reduce)(X, s.reducer, s.seed, folder / "reductions", rid)
                for rid, s in reductions.items()
            )
    return sum(len(r) for r in missing.values())


def _features(study: Study, setting: Setting, progress: bool) -> tuple[pd.Index, np.ndarray]:
    from semclust.study.routes import route_features

    return route_features(study, setting.run_config(), progress)


def _reduce(X: np.ndarray, spec: str, seed: int, folder: Path, reduction_id: str) -> None:
    """Reduce ``X`` and save it (or the error) as ``<reduction_id>.npy`` / ``.json``."""
    meta: dict[str, Any] = {"reducer": spec, "seed": seed, "n_rows": len(X), "error": None}
    start = time.perf_counter()
    try:
        reducer = create_reducer(spec, random_state=seed)
        check_fits(reducer, spec, X)
        reduced = np.asarray(reducer.fit_transform(X), dtype=np.float32)
    except SettingDoesNotFit as exc:
        meta["error"] = f"{spec}: {exc}"
        log.warning("reduction failed: %s", meta["error"])
    meta["seconds"] = time.perf_counter() - start
    (folder / f"{reduction_id}.json").write_text(json.dumps(meta))
    if meta["error"] is None:  # the .npy last and whole: its presence means the reduction is done
        with open(folder / f"{reduction_id}.tmp", "wb") as handle:
            np.save(handle, reduced)
        os.replace(folder / f"{reduction_id}.tmp", folder / f"{reduction_id}.npy")


def _cluster_all(
    folder: Path, todo: list[_Planned], scorer: Scorer, records: dict, n_jobs: int, progress: bool
) -> None:
    """Cluster and score every setting of ``todo``; save each one the moment it is done."""
    from joblib import Parallel, delayed

    from semclust.core.progress import track

    planned = {p.setting_id: p for p in todo}
    jobs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_cluster)(folder / "reductions", p.input_id, p.reduction_id, p.setting_id,
                          p.setting.clusterer, p.setting.seed, folder / "settings")
        for p in todo
    )  # fmt: skip
    for outcome in track(jobs, len(todo), "grid settings", progress):
        p = planned[outcome.pop("setting_id")]
        labels = outcome.pop("labels")
        if labels is not None:
            np.save(folder / "settings" / f"{p.setting_id}.labels.npy", labels)
            outcome |= scorer.score(_ids(folder, p), labels)
        record = _record(p, outcome, scorer.fingerprint)
        _write_record(folder, record)
        _append_row(folder / "results.csv", _row(record))
        records[p.setting_id] = record


def check_fits(estimator: Any, spec: str, X: np.ndarray) -> None:
    """Raise :class:`SettingDoesNotFit` when ``estimator`` asks for more than ``X`` holds."""
    n, dim = X.shape
    n_components = getattr(estimator, "n_components", None)
    if isinstance(n_components, int) and n_components >= n:
        raise SettingDoesNotFit(f"{spec}: {n_components} components need more than {n} items")
    if isinstance(n_components, int) and n_components > dim:
        raise SettingDoesNotFit(f"{spec}: {n_components} components from {dim} dimensions")
    for name in ("n_clusters", "min_cluster_size"):
        wanted = getattr(estimator, name, None)
        if isinstance(wanted, int) and wanted > n:
            raise SettingDoesNotFit(f"{spec}: {name}={wanted} needs at least {wanted} items, not {n}")


def _cluster(reductions: Path, input_id: str, reduction_id: str, setting_id: str, spec: str,
             seed: int, settings: Path) -> dict:  # fmt: skip
    """Worker: cluster one saved reduction; internal indices in the embedding space.

    The indices are computed on the embedder's vectors, the space every setting of that
    embedder shares, so that reducers can be compared; ``silhouette_reduced`` (in the
    setting's own reduced space) is kept beside them but favours UMAP by construction.
    """
    from semclust.validation.evaluate.internal import INDEX_NAMES, internal_indices

    meta = json.loads((reductions / f"{reduction_id}.json").read_text())
    result: dict[str, Any] = {"setting_id": setting_id, "labels": None, "error": meta["error"]}
    result["reduce_seconds"] = meta["seconds"]
    if meta["error"]:
        return result
    X = np.load(reductions / f"{reduction_id}.npy")
    start = time.perf_counter()
    clusterer = create_clusterer(spec, random_state=seed)
    try:
        check_fits(clusterer, spec, X)
    except SettingDoesNotFit as exc:
        return result | {"error": str(exc)}
    labels = np.asarray(clusterer.fit_predict(X), dtype=np.int32)
    history = getattr(clusterer, "history_", None)
    if isinstance(history, pd.DataFrame):  # iterative k-means: the rounds behind Casas Fig. 6
        history.to_csv(settings / f"{setting_id}.iterations.csv", index=False)
    result["cluster_seconds"] = time.perf_counter() - start
    features = np.load(reductions / f"{input_id}.features.npy", mmap_mode="r")
    indices = internal_indices(features, labels, random_state=seed)
    reduced = internal_indices(X, labels, random_state=seed)
    result["score_seconds"] = time.perf_counter() - start - result["cluster_seconds"]
    result |= {name: indices[name] for name in INDEX_NAMES}
    result["silhouette_reduced"] = reduced["silhouette"]
    result["notes"] = sorted(set(indices["reasons"].values()))
    return result | {"labels": labels}


def _ids(folder: Path, p: _Planned) -> np.ndarray:
    return np.load(folder / "reductions" / f"{p.input_id}.ids.npy")


def _record(p: _Planned, scores: dict, fingerprint: str) -> dict:
    s = p.setting
    return {
        "setting_id": p.setting_id, "reduction_id": p.reduction_id, "input_id": p.input_id,
        "embedder": s.embedder.spec, "weights": s.embedder.weights, "route": s.embedder.route,
        "reducer": s.reducer, "clusterer": s.clusterer, "seed": s.seed,
        "scoring": fingerprint, "scores": scores,
    }  # fmt: skip


def _row(record: dict) -> dict:
    scores = dict(record["scores"])
    scores["notes"] = "; ".join(scores.get("notes", []) + scores.get("code_notes", []))
    return {c: record.get(c, scores.get(c)) for c in COLUMNS}


def _append_row(path: Path, row: dict) -> None:
    pd.DataFrame([row], columns=COLUMNS).to_csv(
        path, mode="a", header=not path.exists(), index=False
    )


def _results_table(plan: list[_Planned], records: dict) -> pd.DataFrame:
    rows = [_row(records[p.setting_id]) for p in plan if p.setting_id in records]
    table = pd.DataFrame(rows, columns=COLUMNS)
    numeric = [c for c in SCORE_COLUMNS if c not in TEXT_COLUMNS]
    return table.assign(
        **{c: pd.to_numeric(table[c]) for c in numeric}
    )  # None -> NaN, as in the CSV


def _rescore(folder: Path, plan: list[_Planned], records: dict, scorer: Scorer) -> int:
    """Settings scored with other codes or options: new code scores from the saved labels."""
    stale = [
        p
        for p in plan
        if p.setting_id in records and records[p.setting_id]["scoring"] != scorer.fingerprint
    ]
    for p in stale:
        record = records[p.setting_id]
        labels_path = folder / "settings" / f"{p.setting_id}.labels.npy"
        if labels_path.exists():
            kept = {k: v for k, v in record["scores"].items() if k not in CODE_SCORES}
            record["scores"] = kept | scorer.score(_ids(folder, p), np.load(labels_path))
        record["scoring"] = scorer.fingerprint
        _write_record(folder, record)
    if stale:
        log.info("rescored %d finished settings with the new codes/options", len(stale))
    return len(stale)




@dataclass
class BestRun:
    """The best setting by ``criterion`` and the normal run made from it."""

    criterion: str
    row: pd.Series
    run: Run

    @property
    def report(self) -> Path:
        return self.run.folder / "report.html"


def rerun_best(
    study: Study,
    outcome: GridOutcome,
    criterion: str | None = None,
    *,
    progress: bool = True,
    **options,
) -> BestRun:
    """Run the best setting as a normal run (assignments, keywords, report); ``best.json``.

    ``options`` go to its :class:`RunConfig` (e.g. ``map="pca"``).
    """
    from semclust.study.pipeline import execute_run

    criterion = choose_criterion(outcome.results, criterion)
    row = best_setting(outcome.results, criterion)
    record = json.loads((outcome.folder / "settings" / f"{row['setting_id']}.json").read_text())
    setting = Setting(
        Embedder(record["embedder"], record["route"], record["weights"]),
        record["reducer"], record["clusterer"], record["seed"],
    )  # fmt: skip
    run = execute_run(study, setting.run_config(_describer(study), **options), progress=progress)
    _check_same_labels(outcome.folder, record, run)
    best = {"criterion": criterion, "higher_is_better": CRITERIA[criterion], "run_id": run.id,
            "report": str(run.folder / "report.html"), "setting": record}  # fmt: skip
    (outcome.folder / "best.json").write_text(json.dumps(best, indent=2, default=_plain))
    return BestRun(criterion, row, run)


def _describer(study: Study) -> str | None:
    try:
        return study.description_source().describer
    except SemclustError:
        return None


def _check_same_labels(folder: Path, record: dict, run: Run) -> None:
    """Warn when the re-run did not reproduce the grid's partition (cluster numbers may differ)."""
    from sklearn.metrics import adjusted_rand_score

    labels = np.load(folder / "settings" / f"{record['setting_id']}.labels.npy")
    ids = np.load(folder / "reductions" / f"{record['input_id']}.ids.npy")
    rerun = run.clustered().set_index("id")["cluster"].reindex(ids).fillna(-2).astype(int)
    agreement = adjusted_rand_score(labels, rerun)
    if agreement < 1:
        log.warning(
            "the re-run of the best setting differs from the grid's clustering (ARI %.3f)",
            agreement,
        )
