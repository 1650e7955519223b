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


@pytest.mark.parametrize("text", ["\ufeffimage,description\n\n\na.png,x\n", "image,description\n\n  \n"])
def test_the_header_check_reads_a_csv_as_ingest_does(tmp_path, text):
    """Byte-order mark and blank lines: the light header reader and pandas' ingest agree."""
    from semclust.core.input_header import input_columns
    from semclust.stages.ingest import read_input

    path = tmp_path / "posts.csv"
    path.write_text(text, encoding="utf-8")
    try:
        columns = input_columns(path)
    except SemclustError as refused:
        with pytest.raises(SemclustError, match="but no rows"):
            read_input(path)
        assert "but no rows" in str(refused)
    else:
        assert columns == ["image", "description"]
        assert {"image", "description"} <= set(read_input(path).columns)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "{posts}", "--out", "{tmp}/s", "--describer", "column:description", "--clusterer", "hdbscan:abc"],
        ["run", "{posts}", "--out", "{tmp}/s", "--describer", "column:descripton"],
        ["run", "{posts}", "--out", "{tmp}/s", "--reducer", "umapp:10"],
    ],
)
def test_a_bad_option_is_refused_before_any_heavy_import(tmp_path, posts, args):
    """The first-second promise, checked by what a fresh interpreter imported (not by a clock):
    refusing a bad spec must not load pandas, scikit-learn, umap, torch or Pillow (seconds)."""
    import json
    import subprocess
    import sys

    argv = [a.format(posts=posts, tmp=tmp_path) for a in args]
    probe = (
        "import json, sys\n"
        "from semclust.cli import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "heavy = sorted(m for m in ('pandas', 'sklearn', 'umap', 'torch', 'PIL', 'scipy') if m in sys.modules)\n"
        "print(json.dumps({'code': code, 'heavy': heavy}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 1 and done.stderr.startswith("error: "), done.stderr
    assert result["heavy"] == []


def test_a_misspelt_scales_preset_gets_a_did_you_mean(tmp_path, no_work):
    line = _run("annotate", "serve", "--study", str(tmp_path / "s"), "--task", str(tmp_path / "t.csv"),
                "--scales", "emotion-casas")
    assert "did you mean 'emotions-casas'?" in line
