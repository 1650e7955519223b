"""A REFI-QDA codebook as the theme list of a consistency task: offered first, escaped, checked."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from semclust.core.errors import SemclustError
from semclust.core.refi_qda import QdaCode, write_codebook
from semclust.validation import sampling
from semclust.validation.annotate import AnnotationError, AnnotationStore, create_app, load_task
from semclust.validation.annotate.codebook import codebook_themes

ODD = 'Kids & "school" <b>'


@pytest.fixture
def study(tmp_path, make_image):
    from semclust.study.workspace import Study

    for i in range(6):
        make_image(tmp_path / "images" / f"img{i:02d}.png", seed=i)
    folder = tmp_path / "study"
    with Study(folder) as s:
        s.ingest(tmp_path / "images", progress=False)
        images = s.items().set_index("id")["image"]
    labels = pd.Series([1] * 3 + [2] * 3, index=images.index)
    sample = sampling.consistency_sample(labels, per_cluster=3, random_state=0)
    items = pd.DataFrame({"id": images.index, "image": images.to_numpy()})
    prefix = tmp_path / "s" / "consistency"
    sampling.export_consistency(sample, items, prefix, sampling.Provenance("consistency", "s", "r", 0))
    return folder, prefix.with_name("consistency.csv"), images


@pytest.fixture
def codebook(tmp_path):
    codes = [QdaCode("protest", children=[QdaCode("  street   march ")]), QdaCode(ODD),
             QdaCode("Protest")]  # a second spelling of a code is offered once
    return write_codebook(codes, tmp_path / "book.qdc")


def test_codebook_names_nested_and_deduplicated(codebook):
    assert codebook_themes(codebook) == ["protest", "street march", ODD]


def test_the_codebook_is_offered_first_then_the_coders_own(study, codebook):
    folder, sample, _ = study
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, sample, themes=codebook)
    with TestClient(create_app(folder, task.name)) as client:
        client.post("/start", data={"coder": "ann"})
        page = client.post("/code/ann/1", data={"action": "save", "theme": "flood"}).text
    assert f"<option value=\"{escape(ODD)}\">" in page  # escaped, never raw markup
    assert "<b>" not in page
    options = [html.unescape(o) for o in re.findall(r'<option value="([^"]*)">', page)]
    assert options == ["protest", "street march", ODD, "flood"]


def test_only_a_consistency_task_takes_a_theme_list(study, codebook, tmp_path):
    folder, _, images = study
    pairs = sampling.draw_pairs(images.index.tolist(), 3, random_state=1)
    sampling.export_pairs(pairs, images, tmp_path / "p" / "pairs", sampling.Provenance("pairs", "s", None, 0),
                          coders=["c1"])
    with AnnotationStore(folder) as store, pytest.raises(AnnotationError, match="consistency task"):
        load_task(store, folder, tmp_path / "p" / "pairs.csv", themes=codebook)


def test_a_non_refi_theme_list_is_one_clear_error(study, tmp_path):
    folder, sample, _ = study
    bad = tmp_path / "themes.qdc"
    bad.write_text("protest\nflood\n")
    with AnnotationStore(folder) as store, pytest.raises(SemclustError, match="not a REFI-QDA codebook"):
        load_task(store, folder, sample, themes=bad)


def test_a_restart_keeps_the_theme_list_and_refuses_another(study, codebook, tmp_path):
    folder, sample, _ = study
    with AnnotationStore(folder) as store:
        first = load_task(store, folder, sample, themes=codebook)
        again = load_task(store, folder, sample)  # a restart without --themes is the same task
        assert again.spec.settings["themes"] == first.spec.settings["themes"]
        other = write_codebook([QdaCode("flood")], tmp_path / "other.qdc")
        with pytest.raises(AnnotationError, match="another theme list"):
            load_task(store, folder, sample, themes=other)
