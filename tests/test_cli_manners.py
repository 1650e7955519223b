"""Manners of the CLI (issue 8, part 18): fast startup, quiet when asked, words not reprs."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "sklearn", "torch", "matplotlib", "fastapi", "umap", "sentence_transformers", "scipy")


@pytest.mark.parametrize("module", ["semclust", "semclust.cli.main", "semclust.validation.evaluate", "semclust.validation.annotate"])
def test_importing_the_cli_and_packages_pulls_in_no_heavy_library(module):
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_annotate_export_needs_neither_the_web_app_nor_the_metrics():
    code = "import sys, semclust.validation.annotate.export; print(','.join(m for m in ('sklearn', 'fastapi', " \
           "'matplotlib', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_lazy_names_resolve_and_unknown_ones_raise():
    import semclust
    import semclust.validation.evaluate as evaluate

    assert semclust.Study.__name__ == "Study" and "Study" in dir(semclust)
    assert callable(evaluate.evaluate_run)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = evaluate.nope


def _study_csv(tmp_path):
    import pandas as pd

    from fake_llm_server import write_images

    words = ["flood river rain water", "fire smoke forest heat", "protest crowd sign march"]
    pairs = write_images(tmp_path / "img", 12, size=(32, 32))
    pd.DataFrame({"image": [p for _, p in pairs], "alt": [f"{words[i % 3]} {i}" for i in range(12)]}).to_csv(
        tmp_path / "posts.csv", index=False)
    return tmp_path / "posts.csv"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semclust.cli.main", *args], capture_output=True, text=True)


def test_quiet_silences_info_logs_and_the_summary_is_words_not_a_repr(tmp_path):
    csv = _study_csv(tmp_path)
    study = str(tmp_path / "study")
    common = ["--describer", "column:alt", "--embedder", "tfidf:4", "--reducer", "none", "--clusterer",
              "kmeans:3", "--map", "none"]
    loud = _cli("run", str(csv), "--out", study, *common)
    assert loud.returncode == 0, loud.stderr
    assert "INFO" in loud.stderr  # without -q the steps are logged
    quiet = _cli("cluster", "--study", study, "--embedder", "tfidf:4", "--reducer", "none",
                 "--clusterer", "kmeans:3", "--map", "none", "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert "INFO" not in quiet.stderr
    assert "3 clusters and 0 outliers (0.0%) among 12 clustered items" in " ".join(quiet.stderr.split())
    assert "{'" not in quiet.stderr and "n_items" not in quiet.stderr  # no dict repr
    import json
    from pathlib import Path

    latest = Path(study, "runs", Path(study, "runs", "LATEST").read_text().strip())
    assert json.loads((latest / "config.json").read_text())["prompt"] is None  # a column: run has no prompt


@pytest.mark.slow
def test_no_library_progress_bar_leaks_when_the_model_loads(tmp_path):
    csv = _study_csv(tmp_path)
    done = _cli("run", str(csv), "--out", str(tmp_path / "study"), "--describer", "column:alt",
                "--embedder", "st:all-MiniLM-L6-v2", "--reducer", "none", "--clusterer", "kmeans:3",
                "--map", "none", "-q")
    assert done.returncode == 0, done.stderr
    assert "Loading weights" not in done.stderr and "it/s" not in done.stderr


def test_an_error_message_is_printed_as_text_not_rich_markup(capsys):
    """A file name or model output quoted in an error may hold [brackets]; they must show as typed."""
    import typer

    from semclust.cli.common import user_errors
    from semclust.core.errors import SemclustError

    with pytest.raises(typer.Exit), user_errors():
        raise SemclustError("cannot read [red]posts[/red].csv")
    printed = " ".join(capsys.readouterr().err.split())
    assert "error: cannot read [red]posts[/red].csv" in printed
