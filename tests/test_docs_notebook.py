"""docs/notebook.ipynb runs headless from top to bottom, offline, and shows what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="the notebook extra runs it: pip install 'semclust[notebook]'")
nbformat = pytest.importorskip("nbformat")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.ipynb"


@pytest.mark.slow
def test_docs_notebook_executes_from_images_to_report(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMCLUST_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {i: cell.get("outputs", []) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    errors = [o for out in outputs.values() for o in out if o.get("output_type") == "error"]
    assert not errors
    html = [o["data"]["text/html"] for out in outputs.values() for o in out if "text/html" in o.get("data", {})]
    grids = [h for h in html if "semclust-view" in h]
    assert len(grids) >= 2 and "data:image/jpeg;base64," in grids[0]  # run.show() and run.cluster(0)
    study = tmp_path / "study"
    assert len(list((study / "samples").glob("pairs-*.csv"))) >= 1
    run = next(p for p in (study / "runs").iterdir() if p.is_dir() and not p.is_symlink())
    assert (run / "report.html").exists() and len(list((run / "transform").glob("*.csv"))) == 1
    # the colours came back as three clusters, one per palette
    import pandas as pd

    table = pd.read_csv(run / "assignments.csv")
    table["palette"] = table["id"].str.split("/").str[0]
    assert table.groupby("palette")["cluster"].nunique().eq(1).all()
    assert table["cluster"].nunique() == 3
