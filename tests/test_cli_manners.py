"""Manners of the CLI (issue 8, part 18): fast startup, quiet when asked, words not reprs."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "sklearn", "torch", "matplotlib", "fastapi", "umap", "sentence_transformers", "scipy")


@pytest.mark.parametrize("module", ["semclust", "semclust.cli.main", "semclust.evaluate", "semclust.annotate"])
def test_importing_the_cli_and_packages_pulls_in_no_heavy_library(module):
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_annotate_export_needs_neither_the_web_app_nor_the_metrics():
    code = "import sys, semclust.annotate.export; print(','.join(m for m in ('sklearn', 'fastapi', " \
           "'matplotlib', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_lazy_names_resolve_and_unknown_ones_raise():
    import semclust
    import semclust.evaluate as evaluate

    assert semclust.Study.__name__ == "Study" and "Study" in dir(semclust)
    assert callable(evaluate.evaluate_run)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = evaluate.nope
