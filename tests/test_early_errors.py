"""Issue 19: every bad option and bad input fails at once, as one error line, before any work.

The study's ingest and embed are replaced by functions that fail the test if called, so a check
that came after them (as ``--clusterer hdbscan:abc`` used to, a minute in) cannot pass.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from semclust.cli import app
from semclust.core.errors import SemclustError


@pytest.fixture
def no_work(monkeypatch):
    """Ingesting, describing or embedding anything fails the test."""
    from semclust.study.workspace import Study

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the options were checked")

    for step in ("ingest", "describe", "embed"):
        monkeypatch.setattr(Study, step, forbidden)


@pytest.fixture
def posts(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("image,description\na.png,a cat on a wall\nb.png,a dog in the rain\n")
    return path


def _run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--clusterer", "hdbscan:abc", "hdbscan:MIN_CLUSTER_SIZE needs an integer, got 'abc'"),
        ("--clusterer", "hdbscn:50", "did you mean 'hdbscan'?"),
        ("--describer", "colum:description", "did you mean 'column'?"),
        ("--describer", "openai:", "openai needs a model name"),
        ("--embedder", "stt:all-MiniLM-L6-v2", "did you mean 'st'?"),
        ("--embedder", "tfidf:0", "tfidf:K needs K >= 1"),
        ("--reducer", "umap:2:1", "N_NEIGHBORS >= 2"),
        ("--reducer", "pcaa:5", "did you mean 'pca'?"),
        ("--prompt", "conotative", "neither a preset"),
    ],
)
def test_run_refuses_a_bad_option_before_any_work(tmp_path, posts, no_work, option, value, expected):
    describer = [] if option == "--describer" else ["--describer", "openai:gpt-4o-mini"]
    line = _run("run", str(posts), "--out", str(tmp_path / "study"), *describer, option, value)
    assert expected in line
    assert not (tmp_path / "study").exists()  # nothing half-written


def test_the_list_of_describers_names_column_and_none(tmp_path, posts, no_work):
    line = _run("run", str(posts), "--out", str(tmp_path / "study"), "--describer", "colum:description")
    known = line.split("known: ")[1].split(", ")
    assert {"column", "none", "openai", "ollama", "hf", "vllm"} <= set(known)


def test_cluster_refuses_a_bad_clusterer_before_opening_the_study(tmp_path, no_work):
    line = _run("cluster", "--study", str(tmp_path / "study"), "--clusterer", "kmeans:many")
    assert "kmeans:K needs an integer" in line
    assert not (tmp_path / "study").exists()


def test_an_unknown_input_column_lists_only_the_users_columns(tmp_path, posts, no_work):
    line = _run("run", str(posts), "--out", str(tmp_path / "study"), "--describer", "column:descripton")
    assert "did you mean 'column:description'?" in line
    assert line.endswith("its columns: image, description")


def test_an_unknown_column_of_a_study_lists_no_internal_column(tmp_path, make_image, tmp_study):
    make_image(tmp_path / "a.png")
    (tmp_path / "in.csv").write_text("image,caption\na.png,x\n")
    tmp_study.ingest(tmp_path / "in.csv", progress=False)
    assert {"sha256", "status", "error"} <= set(tmp_study.items().columns)
    with pytest.raises(SemclustError) as refused:
        tmp_study.describe("column:nosuchcol")
    listed = str(refused.value).split("its columns: ")[1].split(", ")
    assert listed == ["id", "image", "caption"]  # the item ids, then the input's own


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty: a CSV input needs a header line"),
        ("image,description\n", "has a header (image, description) but no rows"),
    ],
)
def test_an_empty_or_header_only_csv_is_one_clear_line(tmp_path, no_work, text, expected):
    path = tmp_path / "posts.csv"
    path.write_text(text)
    line = _run("run", str(path), "--out", str(tmp_path / "study"), "--describer", "column:description")
    assert expected in line and "ingest" not in line.replace("nothing to ingest", "")
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize("text", ["", "image,description\n"])
def test_ingest_of_an_empty_csv_says_so_without_a_traceback(tmp_path, text):
    from semclust.stages.ingest import read_input

    path = tmp_path / "posts.csv"
    path.write_text(text)
    with pytest.raises(SemclustError, match="is empty|but no rows"):
        read_input(path)
