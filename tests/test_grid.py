"""``semclust grid``: every setting once, reductions once, resumable, scored like the toolkit."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import adjusted_mutual_info_score, silhouette_score
from typer.testing import CliRunner

import semclust.validation.grid_runner as grid_module
from semclust.cli import app
from semclust.core.errors import SemclustError
from semclust.study.pipeline import cluster_run
from semclust.study.routes import route_features
from semclust.study.workspace import Study
from semclust.validation.evaluate import grimmer_king, pair_scores_cv
from semclust.validation.evaluate.internal import internal_indices
from semclust.validation.grid_file import GridError, load_grid, parse_grid
from semclust.validation.grid_runner import run_grid
from semclust.validation.grid_scoring import ScoringOptions, best_setting

MIN_PAIRS = 20  # the demo study is small: 50/50 pairs would leave every quality unscored

ITERKMEANS = {
    "sample_size": [30], "step_size": [2], "convergence_window": [2],
    "similarity_threshold": [0.0], "stop_size": [5],
}  # fmt: skip
SMALL_GRID = {
    "embedders": ["tfidf:10"],
    "reducers": {"pca": [3, 5]},
    "clusterers": {"kmeans": [4], "hdbscan": [5]},
}


class MeanColour:
    """A fake image embedder: each image's mean RGB (registered as ``meancolour``)."""

    name, dim = "meancolour", 3

    def embed_images(self, images):
        return np.array([np.asarray(im, dtype=np.float32).mean(axis=(0, 1)) for im in images])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from semclust.study.demo_corpus import make_demo_corpus

    folder = tmp_path_factory.mktemp("grid")
    csv = make_demo_corpus(folder / "corpus", n_per_theme=8, seed=1)
    study = Study(folder / "study")
    study.ingest(csv, progress=False)
    study.describe("column:alt_text")
    yield study
    study.close()


@pytest.fixture(scope="module")
def codes_file(study, tmp_path_factory):
    """Coded pairs from the demo's hidden themes: half same-theme, half different-theme pairs."""
    items = study.items()
    items = items[study.descriptions().reindex(items["id"]).notna().to_numpy()]
    rng = np.random.default_rng(0)
    same, diff = [], []
    while len(same) < 120 or len(diff) < 120:
        a, b = rng.choice(len(items), 2, replace=False)
        pair = tuple(sorted((items["id"].iloc[a], items["id"].iloc[b])))
        bucket = same if items["theme"].iloc[a] == items["theme"].iloc[b] else diff
        if len(bucket) < 120 and pair not in same + diff:
            bucket.append(pair)
    rows = []
    for (id_a, id_b), together in [(p, 1) for p in same] + [(p, 0) for p in diff]:
        noisy = rng.random() < 0.15
        rows.append({"id_a": id_a, "id_b": id_b, "same": together,
                     "connotative": 2 * together if not noisy else 1,
                     "denotative": int(rng.integers(0, 3))})  # fmt: skip
    path = tmp_path_factory.mktemp("codes") / "codes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _grid(name: str, **overrides):
    return parse_grid(SMALL_GRID | {"name": name} | overrides)


def _scoring(codes_file) -> ScoringOptions:
    return ScoringOptions(codes=codes_file, min_same=MIN_PAIRS, min_diff=MIN_PAIRS)


def _counting(monkeypatch, name: str, fail_after: int | None = None) -> list[str]:
    """Record every call of ``semclust.validation.grid_runner.<name>``; raise KeyboardInterrupt after ``fail_after``."""
    calls: list[str] = []
    original = getattr(grid_module, name)

    def wrapper(spec, **kwargs):
        if fail_after is not None and len(calls) == fail_after:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C
        calls.append(spec)
        return original(spec, **kwargs)

    monkeypatch.setattr(grid_module, name, wrapper)
    return calls


def test_every_setting_runs_once_and_each_reduction_is_computed_once(study, monkeypatch):
    grid = _grid(
        "once", clusterers=SMALL_GRID["clusterers"] | {"iterkmeans": ITERKMEANS}
    )  # parsing builds each spec once to check it: count after that
    reductions = _counting(monkeypatch, "create_reducer")
    clusterings = _counting(monkeypatch, "create_clusterer")
    outcome = run_grid(study, grid, n_jobs=1, progress=False, plots=False)
    on_disk = pd.read_csv(outcome.folder / "results.csv")
    assert len(on_disk) == len(outcome.results) == 6
    assert set(zip(on_disk["reducer"], on_disk["clusterer"], strict=True)) == {
        (r, c) for r in ("pca:3", "pca:5")
        for c in ("kmeans:4", "hdbscan:5", "iterkmeans:30:2:2:0.0:5")
    }  # fmt: skip
    assert sorted(reductions) == ["pca:3", "pca:5"]
    assert len(clusterings) == 6
    assert len(list((outcome.folder / "reductions").glob("*.npy"))) == 2 + 2  # + ids, vectors
    assert len(list((outcome.folder / "settings").glob("*.json"))) == 6
    assert on_disk["error"].isna().all()
    # without codes only the code-free scores are filled in
    assert on_disk["silhouette"].notna().all() and on_disk["connotative"].isna().all()


def test_rerun_after_interrupt_computes_only_the_rest(study, monkeypatch, caplog):
    grid = _grid("resume")
    _counting(monkeypatch, "create_clusterer", fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_grid(study, grid, n_jobs=1, progress=False, plots=False)
    folder = grid_module.grid_folder(study.folder, "resume")
    first = pd.read_csv(folder / "results.csv")
    assert len(first) == 2 and len(list((folder / "settings").glob("*.json"))) == 2
    monkeypatch.undo()
    reductions = _counting(monkeypatch, "create_reducer")
    clusterings = _counting(monkeypatch, "create_clusterer")
    with caplog.at_level("INFO", logger="semclust.validation.grid_runner"):
        outcome = run_grid(study, grid, n_jobs=1, progress=False, plots=False)
    assert (outcome.n_skipped, outcome.n_computed, outcome.n_reductions) == (2, 2, 0)
    assert reductions == [] and len(clusterings) == 2
    assert "2 already done (skipped), 2 to compute" in caplog.text
    assert len(pd.read_csv(folder / "results.csv")) == 4
    kept = outcome.results.set_index("setting_id").loc[first["setting_id"], "silhouette"]
    np.testing.assert_allclose(kept.to_numpy(), first["silhouette"].to_numpy())


def test_a_failing_setting_is_recorded_and_the_grid_goes_on(study):
    grid = _grid("failing", reducers=["pca:3", "pca:80"], clusterers=["kmeans:4", "kmeans:70"])
    results = run_grid(study, grid, n_jobs=1, progress=False, plots=False).results
    table = results.set_index(["reducer", "clusterer"])
    assert pd.isna(table.loc[("pca:3", "kmeans:4"), "error"])
    assert "kmeans:70" in table.loc[("pca:3", "kmeans:70"), "error"]  # more clusters than items
    assert table.loc["pca:80", "error"].str.contains("80 components need more than").all()
    assert table.loc["pca:80", "silhouette"].isna().all()


def test_scores_equal_the_toolkit_on_a_normal_run_of_the_same_setting(study, codes_file):
    outcome = run_grid(
        study, _grid("scored"), _scoring(codes_file), n_jobs=1, progress=False, plots=False
    )
    results = outcome.results
    assert results["connotative"].notna().all() and results["f1"].notna().all()
    assert set(results["pair_judgement"]) == {"same"}
    row = results[results["clusterer"] == "hdbscan:5"].iloc[
        0
    ]  # with outliers: they count in neither group
    assert row["outlier_share"] > 0
    setting = grid_module.Setting(
        grid_module.Embedder(row["embedder"], "text"),
        row["reducer"],
        row["clusterer"],
        row["seed"],
    )
    run = cluster_run(study, setting.run_config(map="none"), progress=False)
    for dimension in ("connotative", "denotative"):
        quality = grimmer_king(run.assignments, codes_file, dimension,
                               min_same=MIN_PAIRS, min_diff=MIN_PAIRS)  # fmt: skip
        assert row[dimension] == pytest.approx(quality.score)
        assert row[f"{dimension}_n_same"] == quality.n_same
        assert row[f"{dimension}_n_diff"] == quality.n_diff
    cv = pair_scores_cv(run.assignments, codes_file, n_splits=5, random_state=0)
    for metric in ("precision", "recall", "f1"):
        assert row[metric] == pytest.approx(cv.mean[metric])
        assert row[f"{metric}_std"] == pytest.approx(cv.std[metric])
    clustered = pair_scores_cv(run.assignments, codes_file, n_splits=5, random_state=0,
                               outliers="exclude")  # fmt: skip
    assert row["f1_clustered"] == pytest.approx(clustered.mean["f1"])
    labels = run.clustered()["cluster"].astype(int).to_numpy()
    # internal indices in the embedding space, which every reducer of the embedder shares
    ids, vectors = route_features(study, setting.run_config(), progress=False)
    vectors = vectors[ids.get_indexer(run.clustered()["id"])]
    indices = internal_indices(vectors, labels, random_state=row["seed"])
    for name in ("silhouette", "davies_bouldin", "calinski_harabasz", "s_dbw"):
        assert row[name] == pytest.approx(indices[name])
    own = internal_indices(run.reduced, labels, random_state=row["seed"])["silhouette"]
    assert row["silhouette_reduced"] == pytest.approx(own)
    kept = labels >= 0
    assert row["silhouette"] == pytest.approx(silhouette_score(vectors[kept], labels[kept]))
    assert row["n_clusters"] == len(set(labels[kept]))
    assert row["outlier_share"] == pytest.approx(np.mean(labels < 0))


def test_scores_from_new_codes_reuse_the_saved_labels(study, codes_file, monkeypatch):
    grid = _grid("rescore", clusterers=["kmeans:4"])
    run_grid(study, grid, n_jobs=1, progress=False, plots=False)
    clusterings = _counting(monkeypatch, "create_clusterer")
    outcome = run_grid(study, grid, _scoring(codes_file), n_jobs=1, progress=False, plots=False)
    assert clusterings == [] and outcome.n_rescored == 2
    assert outcome.results["connotative"].notna().all()


def test_codes_for_unknown_images_fail_before_any_clustering(study, tmp_path, monkeypatch):
    codes = tmp_path / "codes.csv"
    codes.write_text("id_a,id_b,same\npost0001,nosuchpost,1\n")
    grid = _grid("unknown-ids")
    clusterings = _counting(monkeypatch, "create_clusterer")
    with pytest.raises(SemclustError, match="line 2 of codes.csv.*'nosuchpost'"):
        run_grid(study, grid, ScoringOptions(codes=codes), n_jobs=1, progress=False)
    assert clusterings == []


def test_best_setting_honours_the_direction_of_the_criterion():
    results = pd.DataFrame({
        "setting_id": ["a", "b", "c"],
        "silhouette": [0.2, 0.5, 0.5],
        "s_dbw": [0.3, 0.9, 0.1],
        "davies_bouldin": [0.4, 0.2, 0.6],
        "connotative": [np.nan, np.nan, np.nan],
    })  # fmt: skip
    assert best_setting(results, "silhouette")["setting_id"] == "b"  # a tie goes to the first
    assert best_setting(results, "s_dbw")["setting_id"] == "c"  # lower is better
    assert best_setting(results, "davies_bouldin")["setting_id"] == "b"
    with pytest.raises(GridError, match="no setting has a connotative score.*--codes"):
        best_setting(results, "connotative")
    with pytest.raises(GridError, match="criterion must be one of"):
        best_setting(results, "accuracy")


def test_cli_grid_plots_and_reruns_the_best_setting(study, codes_file, tmp_path):
    grid_file = tmp_path / "cli.toml"
    grid_file.write_text(
        textwrap.dedent("""
        name = "cli"
        seed = 0
        embedders = ["tfidf:10"]
        reducers = ["pca:3", "pca:5"]
        [clusterers]
        kmeans = [4]
        hdbscan = [5]
        iterkmeans = {sample_size = [30], step_size = [2], convergence_window = [2], similarity_threshold = [0.0], stop_size = [5]}
    """)
    )
    args = ["grid", str(grid_file), "--study", str(study.folder), "--codes", str(codes_file),
            "--min-same", str(MIN_PAIRS), "--min-diff", str(MIN_PAIRS), "--criterion", "s_dbw",
            "--jobs", "1", "--map", "none", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    folder = study.folder / "grids" / "cli"
    results = pd.read_csv(folder / "results.csv")
    assert len(results) == 6
    best = json.loads((folder / "best.json").read_text())
    assert best["criterion"] == "s_dbw" and best["higher_is_better"] is False
    assert best["setting"]["setting_id"] == results.loc[results["s_dbw"].idxmin(), "setting_id"]
    output = result.output.replace("\n", "")  # rich wraps long paths
    assert f"best run:    {best['run_id']}" in output and best["report"] in output
    run_config = json.loads((study.folder / "runs" / best["run_id"] / "config.json").read_text())
    assert (run_config["reducer"], run_config["clusterer"]) == (
        best["setting"]["reducer"], best["setting"]["clusterer"])  # fmt: skip
    assert (study.folder / "runs" / best["run_id"] / "report.html").exists()
    for name in ("quality_by_min_cluster_size", "quality_by_reduction", "precision_recall",
                 "oneshot_vs_iterative"):  # fmt: skip
        with Image.open(folder / f"{name}.png") as png:
            assert png.format == "PNG" and png.width > 300
    again = CliRunner().invoke(app, [*args, "--no-best"])
    assert again.exit_code == 0 and "6 already done (skipped), 0 computed" in again.output.replace(
        "\n", " "
    )


def test_parallel_workers_give_the_same_results(study):
    grid = _grid("parallel", clusterers={"kmeans": [4, 6]})
    sequential = run_grid(study, grid, n_jobs=1, progress=False, plots=False).results
    parallel_grid = _grid("parallel2", clusterers={"kmeans": [4, 6]})
    parallel = run_grid(study, parallel_grid, n_jobs=2, progress=False, plots=False).results
    columns = ["setting_id", "n_clusters", "silhouette", "s_dbw"]
    pd.testing.assert_frame_equal(sequential[columns], parallel[columns])


def test_image_embedders_run_on_the_images_through_the_study_cache(study, monkeypatch):
    from semclust.stages.image_embed import image_embedders

    calls = []

    def factory(args, **options):
        calls.append(options)
        return MeanColour()

    monkeypatch.setitem(image_embedders._factories, "meancolour", factory)  # a registered fake
    grid = _grid("images", embedders=[{"spec": "meancolour", "weights": "w.pt"}],
                 reducers=["none"], clusterers=["kmeans:3"])  # fmt: skip
    assert grid.embedders[0].route == "image"
    results = run_grid(study, grid, n_jobs=1, progress=False, plots=False).results
    readable = (study.items()["status"] == "ok").sum()
    assert results["route"].tolist() == ["image"] and results["n_clustered"].tolist() == [readable]
    assert calls == [{"weights": "w.pt"}]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("embedders: [tfidf:10]\nreducers: [pca:3]\nclusterer: [kmeans:4]\n", "'clusterer'"),
        ("embedders: [tfidf:10]\nreducers: [pca:3]\n", "'clusterers'"),
        (
            "embedders: [tfidf:10]\nreducers: [pca:3]\nclusterers: {kmeans: [4, x]}\n",
            "clusterers.kmeans[1]",
        ),
        (
            "embedders: [tfidf:10]\nreducers: {umap: {neighbours: [5]}}\nclusterers: [kmeans:4]\n",
            "'neighbours'",
        ),
        (
            "embedders: [tfidf:10]\nreducers: {umap: {n_neighbors: [5]}}\nclusterers: [kmeans:4]\n",
            "'n_components'",
        ),
        (
            "embedders: [tfidf:10, nosuch:x]\nreducers: [pca:3]\nclusterers: [kmeans:4]\n",
            "embedders[1]",
        ),
        (
            "embedders: [tfidf:10]\nreducers: [pca:3]\nclusterers: [kmeans:4]\nseeds: [0, one]\n",
            "'one'",
        ),
        (
            "embedders: [tfidf:10]\nreducers: [pca:3]\nclusterers: {kmeans: []}\n",
            "'clusterers' names no",
        ),
        ("embedders: [tfidf:10\n", "not valid YAML"),
    ],
)
def test_bad_grid_file_names_the_key(tmp_path, text, named):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(GridError) as error:
        load_grid(path)
    assert named in str(error.value) and "bad.yaml" in str(error.value)


def test_cli_reports_a_bad_grid_file(study, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("embedders: [tfidf:10]\nreducers: [pca:3]\nclusterers: [kmeans:zero]\n")
    result = CliRunner().invoke(app, ["grid", str(path), "--study", str(study.folder)])
    assert result.exit_code == 1 and "clusterers[0]" in result.output


def test_yaml_families_expand_like_the_paper_grid():
    grid = load_grid(Path(__file__).parents[1] / "examples" / "grid-arminio.yaml")
    assert {"umap:5:5", "umap:10:30", "pca:0.8"} <= set(grid.reducers)
    assert {"hdbscan:50", "hdbscan:200", "kmeans:7", "kmeans:32"} <= set(grid.clusterers)
    casas = load_grid(Path(__file__).parents[1] / "examples" / "grid-casas.yaml")
    assert casas.reducers == ("none", "pca:20")
    iterative = [c for c in casas.clusterers if c.startswith("iterkmeans")]
    assert iterative == [f"iterkmeans:1000:3:3:{t}:20" for t in ("0.04", "0.06", "0.08", "0.1", "0.12")]


def test_only_a_setting_that_does_not_fit_is_skipped_other_errors_stop_the_grid(
    study, monkeypatch, caplog
):
    from semclust.stages.cluster import clusterers

    def broken(args, **options):
        class Broken:
            def fit_predict(self, X):
                raise ValueError("a bug, not a setting that does not fit")

        return Broken()

    monkeypatch.setitem(clusterers._factories, "broken", broken)
    grid = _grid("bug", reducers=["pca:3"], clusterers=["kmeans:70", "broken", "kmeans:4"])
    with caplog.at_level("ERROR", logger="semclust.validation.grid_runner"), pytest.raises(ValueError):
        run_grid(study, grid, n_jobs=1, progress=False, plots=False)
    assert "Traceback" in caplog.text and "a bug, not a setting" in caplog.text
    folder = grid_module.grid_folder(study.folder, "bug")
    saved = pd.read_csv(folder / "results.csv")  # the setting that does not fit, recorded
    assert saved["clusterer"].tolist() == ["kmeans:70"]
    assert "n_clusters=70 needs at least 70 items" in saved["error"].iloc[0]


@pytest.mark.slow
def test_sigterm_stops_the_grid_and_its_workers(study, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    pids = tmp_path / "pids"
    pids.mkdir()
    job = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("grid_sigterm_job.py")),
         str(study.folder), str(pids)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list(pids.glob("*.pid"))) < 2 and time.monotonic() < deadline:
        assert job.poll() is None, job.stderr.read()
        time.sleep(0.2)
    workers = [int(p.stem) for p in pids.glob("*.pid")]
    assert len(workers) == 2
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) != 0
    assert "GridStopped" in job.stderr.read()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)], "workers still running after SIGTERM"


def _alive(pid: int) -> bool:
    try:
        os_stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return os_stat.split(")")[-1].split()[0] != "Z"  # a zombie has finished


def test_iterative_kmeans_settings_keep_their_iteration_history(study):
    grid = _grid("history", reducers=["pca:3"], clusterers={"iterkmeans": ITERKMEANS})
    outcome = run_grid(study, grid, n_jobs=1, progress=False, plots=False)
    setting_id = outcome.results["setting_id"].iloc[0]
    history = pd.read_csv(outcome.folder / "settings" / f"{setting_id}.iterations.csv")
    labels = np.load(outcome.folder / "settings" / f"{setting_id}.labels.npy")
    assert history["clusters_kept"].sum() == labels.max() + 1
    assert history["items_left"].iloc[0] == len(labels)


def test_oneshot_vs_iterative_plot_draws_each_settings_score(tmp_path, monkeypatch):
    from figure_capture import capture_figures, scatter_points
    from semclust.validation.grid_plots import plot_oneshot_vs_iterative, plot_precision_recall
    from semclust.validation.grid_runner import COLUMNS

    rows = [
        ("st", "none", "kmeans:10", 0.61, 0.5, 0.8), ("st", "none", "iterkmeans::::0.08", 0.7, 0.6, 0.85),
        ("st", "pca:20", "kmeans:10", 0.64, 0.55, 0.7), ("st", "pca:20", "iterkmeans::::0.1", 0.66, 0.6, 0.72),
    ]  # fmt: skip
    results = pd.DataFrame(
        [dict.fromkeys(COLUMNS) | {"embedder": e, "reducer": r, "clusterer": c, "f1": f1,
                                   "precision": p, "recall": rc}
         for e, r, c, f1, p, rc in rows]
    )  # fmt: skip
    figures = capture_figures(monkeypatch)
    assert plot_oneshot_vs_iterative(results, tmp_path / "oneshot.png") is not None
    one_shot, iterative = scatter_points(figures[0].axes[0])
    np.testing.assert_allclose(one_shot[:, 1], [0.61, 0.64])
    np.testing.assert_allclose(iterative[:, 1], [0.7, 0.66])
    assert np.allclose(np.round(iterative[:, 0]), [0, 1])  # one column per embedder x reducer
    assert plot_precision_recall(results, tmp_path / "pr.png") is not None
    drawn = np.vstack(scatter_points(figures[1].axes[0]))
    expected = results[["recall", "precision"]].to_numpy(float)
    assert {tuple(p) for p in np.round(expected, 6)} <= {tuple(p) for p in np.round(drawn, 6)}


def test_known_labels_give_each_setting_its_max_form_ami(study):
    grid = _grid("labels", reducers=["pca:3"], clusterers=["kmeans:4", "hdbscan:5"])
    results = run_grid(study, grid, ScoringOptions(labels="theme"), n_jobs=1, progress=False,
                       plots=False).results  # fmt: skip
    folder = grid_module.grid_folder(study.folder, "labels")
    items = study.items()
    for row in results.itertuples():
        ids = np.load(folder / "reductions" / f"{_input_id(folder)}.ids.npy")
        labels = np.load(folder / "settings" / f"{row.setting_id}.labels.npy")
        cluster = pd.Series(labels, index=ids).reindex(items["id"]).fillna(-1).astype(int)
        expected = adjusted_mutual_info_score(items["theme"], cluster, average_method="max")
        assert row.ami == pytest.approx(expected)
    with pytest.raises(GridError, match="no such column"):
        run_grid(study, grid, ScoringOptions(labels="nope"), n_jobs=1, progress=False)


def _input_id(folder: Path) -> str:
    (ids,) = folder.glob("reductions/*.ids.npy")
    return ids.name.removesuffix(".ids.npy")
