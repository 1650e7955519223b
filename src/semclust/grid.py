"""Grid search over pipeline settings: embedders x reducers x clusterers x seeds.

Arminio et al. (appendix A, Figures 3 and 6) and Casas et al. (section 2.4, Figures 5
and 7) chose their pipelines by running every combination of settings and scoring each
one against coded image pairs. :func:`run_grid` does that on a study without repeating
work: each embedding comes from the study's cache, each reduction is computed once and
saved (``reductions/*.npy``) for every clusterer that uses it, clusterings run in
parallel, and every finished setting is written at once (``settings/<id>.json`` and a
row of ``results.csv``), so an interrupted grid continues where it stopped.

The grid file format is documented in ``docs/grid.md``; :func:`load_grid` reads it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .cluster import create_clusterer
from .cluster_iterkmeans import SPEC_FIELDS as ITERKMEANS_FIELDS
from .config import RunConfig
from .errors import SemclustError
from .reduce import create_reducer
from .registry import split_spec

if TYPE_CHECKING:
    from .evaluate import CodedPairs
    from .runs import Run
    from .study import Study

log = logging.getLogger(__name__)

SECTIONS = ("embedders", "reducers", "clusterers")
TOP_KEYS = ("name", "seed", "seeds", *SECTIONS)
#: Named parameters of the families whose specs hold several colon-separated values, in order.
FIELDS = {"umap": ("n_components", "n_neighbors"), "iterkmeans": ITERKMEANS_FIELDS}
#: Families whose spec may leave a field empty to keep its default (``iterkmeans::3``).
GAPS_ALLOWED = {"iterkmeans"}
#: Criteria for the best setting, and whether higher is better.
CRITERIA = {
    "connotative": True,
    "denotative": True,
    "f1": True,
    "silhouette": True,
    "calinski_harabasz": True,
    "s_dbw": False,
    "davies_bouldin": False,
}
#: The criterion used when none is named: the first one that any setting has a value for.
DEFAULT_CRITERIA = ("connotative", "f1", "denotative", "silhouette")
SETTING_COLUMNS = ["setting_id", "embedder", "route", "reducer", "clusterer", "seed"]
SCORE_COLUMNS = [
    "n_clustered", "n_clusters", "outlier_share",
    "silhouette", "davies_bouldin", "calinski_harabasz", "s_dbw",
    "connotative", "connotative_n_same", "connotative_n_diff",
    "denotative", "denotative_n_same", "denotative_n_diff",
    "precision", "recall", "f1", "precision_std", "recall_std", "f1_std", "pair_judgement",
    "reduce_seconds", "cluster_seconds", "score_seconds", "notes", "error",
]  # fmt: skip
COLUMNS = SETTING_COLUMNS + SCORE_COLUMNS
TEXT_COLUMNS = ("pair_judgement", "notes", "error")
#: Failures that end one setting (recorded in its row) but not the grid.
SETTING_FAILURES = (SemclustError, ValueError)


class GridError(SemclustError, ValueError):
    """A grid file that cannot be run as written."""


# --- the grid file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Embedder:
    """An embedder of a grid: a text embedder on the descriptions, or an image embedder."""

    spec: str
    route: str  # "text" or "image"
    weights: str | None = None


@dataclass(frozen=True)
class Setting:
    """One combination of the grid."""

    embedder: Embedder
    reducer: str
    clusterer: str
    seed: int

    def run_config(self, describer: str | None = None, **options) -> RunConfig:
        """The :class:`RunConfig` that runs this setting as a normal run."""
        route = {"route": self.embedder.route}
        if self.embedder.route == "image":
            route |= {"image_embedder": self.embedder.spec, "image_weights": self.embedder.weights}
        else:
            route |= {"embedder": self.embedder.spec}
        if describer:
            route["describer"] = describer
        return RunConfig(
            reducer=self.reducer, clusterer=self.clusterer, seed=self.seed, **route, **options
        )


@dataclass(frozen=True)
class Grid:
    """The settings a grid file asks for; every combination is run once."""

    name: str
    embedders: tuple[Embedder, ...]
    reducers: tuple[str, ...]
    clusterers: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)

    def settings(self) -> list[Setting]:
        """Every combination, those sharing a reduction next to each other."""
        combos = itertools.product(self.embedders, self.reducers, self.seeds, self.clusterers)
        return [Setting(e, r, c, s) for e, r, s, c in combos]


def load_grid(path: str | os.PathLike) -> Grid:
    """Read and check a grid file (``.yaml``/``.yml`` or ``.toml``); see ``docs/grid.md``."""
    path = Path(path)
    if not path.is_file():
        raise GridError(f"grid file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        import tomllib

        parse, errors, kind = tomllib.loads, tomllib.TOMLDecodeError, "TOML"
    elif suffix in (".yaml", ".yml"):
        import yaml

        parse, errors, kind = yaml.safe_load, yaml.YAMLError, "YAML"
    else:
        raise GridError(f"{path.name}: a grid file ends in .yaml, .yml or .toml")
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except errors as exc:
        raise GridError(f"{path.name} is not valid {kind}: {exc}") from exc
    return parse_grid(data, origin=path.name, default_name=path.stem)


def parse_grid(data: Any, origin: str = "the grid", default_name: str = "grid") -> Grid:
    """Check a grid given as a mapping and expand its families into specs."""
    if not isinstance(data, dict):
        raise GridError(f"{origin}: expected a mapping with keys {', '.join(SECTIONS)}")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise GridError(f"{origin}: unknown key {unknown[0]!r}; known keys: {', '.join(TOP_KEYS)}")
    missing = [s for s in SECTIONS if not data.get(s)]
    if missing:
        raise GridError(f"{origin}: {missing[0]!r} is missing or empty")
    name = str(data.get("name") or default_name)
    if not re.fullmatch(r"[\w.-]+", name):
        raise GridError(f"{origin}: name {name!r} must be letters, digits, '.', '-' or '_'")
    return Grid(
        name=name,
        embedders=tuple(_embedders(data["embedders"], origin)),
        reducers=tuple(_checked(data["reducers"], "reducers", origin, create_reducer)),
        clusterers=tuple(_checked(data["clusterers"], "clusterers", origin, create_clusterer)),
        seeds=_seeds(data, origin),
    )


def _seeds(data: dict, origin: str) -> tuple[int, ...]:
    if "seed" in data and "seeds" in data:
        raise GridError(f"{origin}: give 'seed' or 'seeds', not both")
    raw = data.get("seeds", data.get("seed", 0))
    seeds = raw if isinstance(raw, list) else [raw]
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise GridError(f"{origin}: seeds: {seed!r} is not a whole number in [0, 2**32)")
    if not seeds:
        raise GridError(f"{origin}: 'seeds' is empty")
    return tuple(dict.fromkeys(seeds))


def _checked(value: Any, section: str, origin: str, factory) -> list[str]:
    """The section's specs, each built once with ``factory`` so a bad one fails now."""
    specs = []
    for where, spec in _expand(value, section, origin):
        try:
            factory(spec, random_state=0)
        except SemclustError as exc:
            raise GridError(f"{origin}: {where}: {exc}") from exc
        specs.append(spec)
    return _unique(specs, section, origin)


def _unique(entries: list, section: str, origin: str) -> list:
    """``entries`` without repeats; an empty section (e.g. ``kmeans: []``) is an error."""
    if not entries:
        raise GridError(f"{origin}: {section!r} names no setting")
    return list(dict.fromkeys(entries))


def _embedders(value: Any, origin: str) -> list[Embedder]:
    from .embed import create_text_embedder, text_embedders
    from .image_embed import image_embedders

    found = []
    for where, item in _expand(value, "embedders", origin, allow_mappings=True):
        spec, weights = _embedder_entry(item, where, origin)
        family = split_spec(spec)[0]
        if family in image_embedders.names():
            found.append(Embedder(spec, "image", weights))
            continue
        if family not in text_embedders.names():
            known = ", ".join(text_embedders.names() + image_embedders.names())
            raise GridError(f"{origin}: {where}: unknown embedder {spec!r}; known: {known}")
        if weights is not None:
            raise GridError(f"{origin}: {where}: 'weights' is for image embedders, not {spec!r}")
        try:
            create_text_embedder(spec)  # cheap: models load on first use
        except SemclustError as exc:
            raise GridError(f"{origin}: {where}: {exc}") from exc
        found.append(Embedder(spec, "text"))
    return _unique(found, "embedders", origin)


def _embedder_entry(item: Any, where: str, origin: str) -> tuple[str, str | None]:
    if isinstance(item, str):
        return item, None
    unknown = [k for k in item if k not in ("spec", "weights")]
    if unknown or not isinstance(item.get("spec"), str):
        bad = f"unknown key {unknown[0]!r}" if unknown else "no 'spec'"
        raise GridError(f"{origin}: {where}: {bad}; write {{spec: cnn:vgg16, weights: FILE}}")
    weights = item.get("weights")
    return item["spec"], None if weights is None else str(weights)


def _expand(
    value: Any, section: str, origin: str, allow_mappings: bool = False
) -> list[tuple[str, Any]]:
    """``(where, spec)`` for a list of specs or a mapping family -> values."""
    if isinstance(value, list):
        entries = []
        for i, item in enumerate(value):
            where = f"{section}[{i}]"
            if not isinstance(item, str) and not (allow_mappings and isinstance(item, dict)):
                raise GridError(
                    f"{origin}: {where}: expected a spec such as 'kmeans:7', got {item!r}"
                )
            entries.append((where, item))
        return entries
    if isinstance(value, dict):
        return [
            entry
            for family, values in value.items()
            for entry in _family(str(family), values, f"{section}.{family}", origin)
        ]
    raise GridError(f"{origin}: {section}: expected a list of specs or a mapping, got {value!r}")


def _family(family: str, values: Any, where: str, origin: str) -> list[tuple[str, str]]:
    """``umap: {n_components: [5, 10]}`` -> umap:5, umap:10; ``kmeans: [7, 15]`` -> kmeans:7, ..."""
    if values is None or values is True:
        return [(where, family)]
    if isinstance(values, dict):
        return [(where, spec) for spec in _field_product(family, values, where, origin)]
    values = values if isinstance(values, list) else [values]
    for i, v in enumerate(values):
        _check_value(v, f"{where}[{i}]", origin)
    return [(f"{where}[{i}]", f"{family}:{v}") for i, v in enumerate(values)]


def _field_product(family: str, values: dict, where: str, origin: str) -> list[str]:
    if family not in FIELDS:
        raise GridError(
            f"{origin}: {where}: {family} takes a list of values, not named parameters "
            f"(named parameters exist for {', '.join(FIELDS)})"
        )
    fields = FIELDS[family]
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise GridError(
            f"{origin}: {where}: unknown parameter {unknown[0]!r}; {family} takes {', '.join(fields)}"
        )
    given = [f for f in fields if f in values]
    last = fields.index(given[-1]) if given else -1
    gaps = [f for f in fields[:last] if f not in values]
    if gaps and family not in GAPS_ALLOWED:
        raise GridError(f"{origin}: {where}: give {gaps[0]!r} too (it comes before {given[-1]!r})")
    choices = []
    for f in fields[: last + 1]:
        options = values.get(f, [""])
        options = options if isinstance(options, list) else [options]
        for i, v in enumerate(options):
            _check_value(v, f"{where}.{f}[{i}]", origin)
        choices.append([str(v) for v in options])
    return [":".join([family, *combo]).rstrip(":") for combo in itertools.product(*choices)]


def _check_value(value: Any, where: str, origin: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise GridError(f"{origin}: {where}: expected a number or text, got {value!r}")


# --- running the grid ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringOptions:
    """How each setting is scored against coded pairs (all optional: no codes, no such scores).

    ``pair_dimension`` None uses ``same`` when the codes have it, else the first graded
    dimension (connotative, then denotative) at ``pair_threshold`` on the 0-2 scale.
    """

    codes: str | os.PathLike | None = None
    scale: str = "auto"
    min_same: int = 50
    min_diff: int = 50
    pair_dimension: str | None = None
    pair_threshold: float = 2.0
    folds: int = 5
    fold_seed: int = 0


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
    """
    from .grid_plots import write_plots

    scoring = scoring or ScoringOptions()
    folder = grid_folder(study.folder, grid.name)
    for sub in ("settings", "reductions"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "grid.json").write_text(json.dumps(asdict(grid), indent=2))
    scorer = _Scorer(study, scoring)
    plan = _plan(study, grid)
    records = _load_records(folder, plan)
    n_rescored = _rescore(folder, plan, records, scorer)
    todo = [p for p in plan if p.setting_id not in records]
    log.info(
        "grid %s: %d settings, %d already done (skipped), %d to compute",
        grid.name, len(plan), len(plan) - len(todo), len(todo),
    )  # fmt: skip
    seconds: dict[str, float] = {}
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


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def _plan(study: Study, grid: Grid) -> list[_Planned]:
    """Ids that change whenever the items, descriptions or images an embedder reads change."""
    routes = {e.route: _route_inputs(study, e.route) for e in grid.embedders}
    inputs = {e: _digest(asdict(e), *routes[e.route]) for e in grid.embedders}
    plan = []
    for s in grid.settings():
        reduction = _digest(inputs[s.embedder], s.reducer, s.seed)
        plan.append(_Planned(s, inputs[s.embedder], reduction, _digest(reduction, s.clusterer)))
    return plan


def _route_inputs(study: Study, route: str) -> tuple[list[str], list[str]]:
    """The ids a route embeds and a content key of each: the text's hash, or the image's."""
    from .store import text_hash

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
    """Compute the reductions ``todo`` needs that are not saved yet, one embedder at a time."""
    from joblib import Parallel, delayed

    missing: dict[str, dict[str, Setting]] = {}
    for p in todo:
        if not (folder / "reductions" / f"{p.reduction_id}.npy").exists():
            missing.setdefault(p.input_id, {})[p.reduction_id] = p.setting
    for input_id, reductions in missing.items():
        first = next(iter(reductions.values()))
        with _timed(seconds, "embed"):
            ids, X = _features(study, first, progress)
        np.save(folder / "reductions" / f"{input_id}.ids.npy", np.asarray(ids, dtype=str))
        log.info("%s: %d reductions of %d x %d", first.embedder.spec, len(reductions), *X.shape)
        with _timed(seconds, "reduce"):
            Parallel(n_jobs=n_jobs)(
                delayed(_reduce)(X, s.reducer, s.seed, folder / "reductions", rid)
                for rid, s in reductions.items()
            )
    return sum(len(r) for r in missing.values())


def _features(study: Study, setting: Setting, progress: bool) -> tuple[pd.Index, np.ndarray]:
    from .routes import route_features

    return route_features(study, setting.run_config(), progress)


def _reduce(X: np.ndarray, spec: str, seed: int, folder: Path, reduction_id: str) -> None:
    """Reduce ``X`` and save it (or the error) as ``<reduction_id>.npy`` / ``.json``."""
    meta: dict[str, Any] = {"reducer": spec, "seed": seed, "n_rows": len(X), "error": None}
    start = time.perf_counter()
    try:
        reducer = create_reducer(spec, random_state=seed)
        n_components = getattr(reducer, "n_components", None)
        if isinstance(n_components, int) and n_components >= len(X):
            raise SemclustError(f"{spec}: {n_components} components need more than {len(X)} items")
        reduced = np.asarray(reducer.fit_transform(X), dtype=np.float32)
    except SETTING_FAILURES as exc:
        meta["error"] = f"{spec}: {exc}"
        log.warning("reduction failed: %s", meta["error"])
    meta["seconds"] = time.perf_counter() - start
    (folder / f"{reduction_id}.json").write_text(json.dumps(meta))
    if meta["error"] is None:  # the .npy last and whole: its presence means the reduction is done
        with open(folder / f"{reduction_id}.tmp", "wb") as handle:
            np.save(handle, reduced)
        os.replace(folder / f"{reduction_id}.tmp", folder / f"{reduction_id}.npy")


def _cluster_all(
    folder: Path, todo: list[_Planned], scorer: _Scorer, records: dict, n_jobs: int, progress: bool
) -> None:
    """Cluster and score every setting of ``todo``; save each one the moment it is done."""
    from joblib import Parallel, delayed

    from .progress import track

    planned = {p.setting_id: p for p in todo}
    jobs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_cluster)(folder / "reductions", p.reduction_id, p.setting_id, p.setting.clusterer, p.setting.seed)
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


def _cluster(reductions: Path, reduction_id: str, setting_id: str, spec: str, seed: int) -> dict:
    """Worker: cluster one saved reduction and compute the internal indices."""
    from .evaluate.internal import INDEX_NAMES, internal_indices

    meta = json.loads((reductions / f"{reduction_id}.json").read_text())
    result: dict[str, Any] = {"setting_id": setting_id, "labels": None, "error": meta["error"]}
    result["reduce_seconds"] = meta["seconds"]
    if meta["error"]:
        return result
    X = np.load(reductions / f"{reduction_id}.npy")
    start = time.perf_counter()
    try:
        labels = np.asarray(
            create_clusterer(spec, random_state=seed).fit_predict(X), dtype=np.int32
        )
    except SETTING_FAILURES as exc:
        log.warning("setting failed: %s: %s", spec, exc)
        return result | {"error": f"{spec}: {exc}"}
    result["cluster_seconds"] = time.perf_counter() - start
    indices = internal_indices(X, labels, random_state=seed)
    result["score_seconds"] = time.perf_counter() - start - result["cluster_seconds"]
    result |= {name: indices[name] for name in INDEX_NAMES}
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


def _rescore(folder: Path, plan: list[_Planned], records: dict, scorer: _Scorer) -> int:
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


# --- scores ----------------------------------------------------------------------------------

CODE_SCORES = (
    "connotative", "connotative_n_same", "connotative_n_diff",
    "denotative", "denotative_n_same", "denotative_n_diff",
    "precision", "recall", "f1", "precision_std", "recall_std", "f1_std", "pair_judgement",
    "n_clustered", "n_clusters", "outlier_share", "code_notes",
)  # fmt: skip


class _Scorer:
    """Scores one setting's labels: counts, and everything the coded pairs allow."""

    def __init__(self, study: Study, options: ScoringOptions):
        from .evaluate import load_codes, match_pairs

        self.options = options
        self.codes = (
            None if options.codes is None else load_codes(options.codes, scale=options.scale)
        )
        self.base = _base_assignments(study)
        if self.codes is not None:  # unknown ids or a bad pair dimension fail now, not mid-grid
            match_pairs(self.base.assign(cluster=pd.NA), self.codes)
            pair_judgement(self.codes, options)
        codes_text = "" if self.codes is None else self.codes.frame.to_csv(index=False)
        self.fingerprint = _digest(codes_text, asdict(options) | {"codes": None})

    def score(self, ids: np.ndarray, labels: np.ndarray) -> dict:
        from .pipeline import summary_metrics

        counts = summary_metrics(labels, len(self.base))
        scores = {k: counts[k] for k in ("n_clustered", "n_clusters", "outlier_share")}
        if self.codes is None:
            return scores
        cluster = pd.Series(labels, index=ids).reindex(self.base["id"].to_numpy())
        assignments = self.base.assign(cluster=pd.array(cluster.to_numpy(), dtype="Int64"))
        return scores | code_scores(assignments, self.codes, self.options)


def _base_assignments(study: Study) -> pd.DataFrame:
    """Every item's id, and its description where the study has any (as in a run's table)."""
    items = study.items()
    base = pd.DataFrame({"id": items["id"].astype(str).to_numpy()})
    try:
        descriptions = study.descriptions()
    except SemclustError:  # image-only study: no description source
        return base
    return base.assign(description=descriptions.reindex(items["id"]).to_numpy())


def pair_judgement(codes: CodedPairs, options: ScoringOptions) -> tuple[str, float | None]:
    """Which codes say "together" for pair precision/recall: (dimension, threshold)."""
    from .evaluate.codes import BINARY_DIMENSIONS, GRADED_DIMENSIONS

    dimension = options.pair_dimension
    if dimension is None:
        preferred = [*BINARY_DIMENSIONS, *GRADED_DIMENSIONS]
        dimension = next(d for d in preferred if d in codes.dimensions)
    elif dimension not in codes.dimensions:
        raise GridError(
            f"pair dimension {dimension!r} is not in the codes ({', '.join(codes.dimensions)})"
        )
    return dimension, None if dimension in BINARY_DIMENSIONS else options.pair_threshold


def code_scores(assignments: pd.DataFrame, codes: CodedPairs, options: ScoringOptions) -> dict:
    """Grimmer-King quality per graded dimension and cross-validated pair precision/recall/F1."""
    from .evaluate import EvaluationInputError, grimmer_king, pair_scores_cv
    from .evaluate.codes import GRADED_DIMENSIONS

    scores: dict[str, Any] = {}
    notes = []
    for d in (d for d in GRADED_DIMENSIONS if d in codes.dimensions):
        q = grimmer_king(
            assignments, codes, d, min_same=options.min_same, min_diff=options.min_diff
        )
        scores |= {d: q.score, f"{d}_n_same": q.n_same, f"{d}_n_diff": q.n_diff}
        notes += [f"{d}: {q.reason}"] if q.reason else []
    dimension, threshold = pair_judgement(codes, options)
    scores["pair_judgement"] = dimension if threshold is None else f"{dimension}>={threshold:g}"
    try:
        cv = pair_scores_cv(
            assignments, codes, n_splits=options.folds, random_state=options.fold_seed,
            dimension=dimension, threshold=threshold,
        )  # fmt: skip
    except EvaluationInputError as exc:
        notes.append(f"pairs: {exc}")
    else:
        scores |= cv.mean | {f"{m}_std": v for m, v in cv.std.items()}
    return scores | {"code_notes": notes}


# --- the best setting ------------------------------------------------------------------------


@dataclass
class BestRun:
    """The best setting by ``criterion`` and the normal run made from it."""

    criterion: str
    row: pd.Series
    run: Run

    @property
    def report(self) -> Path:
        return self.run.folder / "report.html"


def choose_criterion(results: pd.DataFrame, criterion: str | None = None) -> str:
    """``criterion`` checked, or the first of :data:`DEFAULT_CRITERIA` any setting has."""
    if criterion is not None:
        if criterion not in CRITERIA:
            raise GridError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
        return criterion
    return next((c for c in DEFAULT_CRITERIA if results[c].notna().any()), "silhouette")


def best_setting(results: pd.DataFrame, criterion: str) -> pd.Series:
    """The row with the best ``criterion`` (highest, or lowest for S_Dbw and Davies-Bouldin).

    Ties go to the setting listed first in the grid; settings without a value are skipped.
    """
    criterion = choose_criterion(results, criterion)
    scored = results[results[criterion].notna()]
    if scored.empty:
        hint = " (give --codes)" if criterion in CODE_SCORES else ""
        raise GridError(f"no setting has a {criterion} score{hint}; choose another criterion")
    values = pd.to_numeric(scored[criterion])
    return scored.loc[values.idxmax() if CRITERIA[criterion] else values.idxmin()]


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
    from .pipeline import execute_run

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
