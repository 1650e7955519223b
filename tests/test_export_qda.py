"""A run as a REFI-QDA codebook/project: names, descriptions, nesting, stable GUIDs, valid files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xmlschema
from typer.testing import CliRunner

from semclust.core.errors import SemclustError
from semclust.core.refi_qda import read_codebook
from semclust.exploration.export_qda import export_qda
from semclust.study.runs import Run, mark_latest, runs_folder

SCHEMAS = Path(__file__).parent / "data" / "refi_qda"
NS = {"q": "urn:QDA-XML:project:1.0"}
ODD = 'Signs < & > "quoted" é 漢字'


def _run(folder: Path, make_image, *, parent=None) -> Run:
    images = [make_image(folder / "img" / f"{i}.{ext}", seed=i)
              for i, ext in enumerate(["jpg", "png", "webp", "jpg", "png"])]
    assignments = pd.DataFrame({"id": [f"p{i}" for i in range(5)], "image": [str(p) for p in images],
                                "cluster": [0, 0, 1, 1, -1], "centroid_distance": [0.2, 0.1, 0.3, 0.4, 0.9]})
    clusters = pd.DataFrame({"cluster": [-1, 0, 1],
                             "keywords": [[], [("crowd", 0.9), ("banner", 0.5)], [("flood", 0.8), ("rain", 0.4)]],
                             "name": ["", ODD, ""], "summary": ["", "People hold signs.", ""]})
    if parent is not None:
        clusters["parent"] = parent
    run = Run(runs_folder(folder) / "run-a", {}, assignments, clusters)
    run.save()
    return run


def test_codebook_has_one_code_per_cluster_and_validates(tmp_path, make_image):
    run = _run(tmp_path, make_image)
    path = export_qda(run, tmp_path / "out.qdc", "qdc")
    xmlschema.XMLSchema(SCHEMAS / "Codebook-mrt2019.xsd").validate(path)
    codes = read_codebook(path)
    assert [c.name for c in codes] == [ODD, "flood, rain"]  # stored name, else top keywords
    assert codes[0].description.splitlines() == ["Keywords: crowd, banner", "People hold signs.",
                                                  "Exemplars: p1, p0"]
    assert all(not c.children for c in codes)


def test_reexport_gives_identical_guids_and_bytes(tmp_path, make_image):
    run = _run(tmp_path, make_image)
    first = export_qda(run, tmp_path / "a.qdpx", "qdpx")
    second = export_qda(Run.load(tmp_path, "run-a"), tmp_path / "b.qdpx", "qdpx")
    assert first.read_bytes() == second.read_bytes()
    assert [c.guid for c in read_codebook(first)] == [c.guid for c in read_codebook(second)]


def test_project_codes_every_clustered_image_and_validates(tmp_path, make_image):
    run = _run(tmp_path, make_image)
    path = export_qda(run, tmp_path / "run.qdpx", "qdpx")
    with zipfile.ZipFile(path) as archive:
        qde = archive.read("project.qde").decode()
        images = [n for n in archive.namelist() if n.startswith("Sources/")]
    xmlschema.XMLSchema(SCHEMAS / "Project-mrt2019.xsd").validate(qde)
    assert len(images) == 4  # the outlier is no picture; the webp became a PNG copy
    assert all(n.endswith((".jpg", ".png")) for n in images)
    root = ET.fromstring(qde)
    guids = {c.get("name"): c.get("guid") for c in root.iterfind("q:CodeBook/q:Codes/q:Code", NS)}
    coded = [ref.get("targetGUID") for ref in root.iterfind(
        "q:Sources/q:PictureSource/q:PictureSelection/q:Coding/q:CodeRef", NS)]
    assert sorted(coded) == sorted([guids[ODD]] * 2 + [guids["flood, rain"]] * 2)
    capped = export_qda(run, tmp_path / "capped.qdpx", "qdpx", per_cluster=1)
    with zipfile.ZipFile(capped) as archive:
        assert len([n for n in archive.namelist() if n.startswith("Sources/")]) == 2


def test_parent_column_nests_codes(tmp_path, make_image):
    run = _run(tmp_path, make_image, parent=["", "", "0"])
    codes = read_codebook(export_qda(run, tmp_path / "n.qdc", "qdc"))
    assert [c.name for c in codes] == [ODD]
    assert [c.name for c in codes[0].children] == ["flood, rain"]


def test_hierarchy_csv_nests_codes_under_its_nodes(tmp_path, make_image):
    run = _run(tmp_path, make_image)
    pd.DataFrame({"level": [0, 0, 0, 1], "node": [-1, 0, 1, 7], "parent": ["", 7, 7, ""],
                  "size": [1, 2, 2, 4], "keywords": ["", "crowd", "flood", "events"],
                  "name": ["", "", "", "Public events"]}).to_csv(run.folder / "hierarchy.csv", index=False)
    path = export_qda(run, tmp_path / "h.qdc", "qdc")
    xmlschema.XMLSchema(SCHEMAS / "Codebook-mrt2019.xsd").validate(path)
    codes = read_codebook(path)
    assert [c.name for c in codes] == ["Public events"]
    assert [c.name for c in codes[0].children] == [ODD, "flood, rain"]
    plain = read_codebook(export_qda(run, tmp_path / "again.qdc", "qdc"))
    assert plain[0].children[0].guid == codes[0].children[0].guid


def test_hierarchy_with_an_unknown_parent_is_one_clear_error(tmp_path, make_image):
    run = _run(tmp_path, make_image)
    pd.DataFrame({"level": [0, 0, 1], "node": [0, 1, 7], "parent": [7, 9, ""]}).to_csv(
        run.folder / "hierarchy.csv", index=False)
    with pytest.raises(SemclustError, match="parent 9, which is no node of level 1"):
        export_qda(run, tmp_path / "h.qdc", "qdc")
    assert not (tmp_path / "h.qdc").exists()


def test_cli_export_writes_qdc_and_qdpx_into_the_run_folder(tmp_path, make_image):
    from semclust.cli.main import app

    run = _run(tmp_path, make_image)
    mark_latest(run.folder)
    result = CliRunner().invoke(app, ["export", "--study", str(tmp_path), "--format", "qdc",
                                      "--format", "qdpx"])
    assert result.exit_code == 0, result.output
    assert [c.name for c in read_codebook(run.folder / "run-a.qdc")] == [ODD, "flood, rain"]
    assert (run.folder / "run-a.qdpx").is_file()
    refused = CliRunner().invoke(app, ["export", "--study", str(tmp_path), "--format", "zip"])
    assert refused.exit_code != 0 and "--out is needed" in refused.output


def test_an_exported_codebook_is_the_theme_list_of_a_coding_task(tmp_path, make_image):
    from semclust.validation.annotate.codebook import codebook_themes

    run = _run(tmp_path, make_image, parent=["", "", "0"])
    path = export_qda(run, tmp_path / "themes.qdpx", "qdpx")
    assert codebook_themes(path) == [" ".join(ODD.split()), "flood, rain"]  # parent, then its child
