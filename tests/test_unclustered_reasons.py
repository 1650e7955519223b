"""Every item that is not clustered keeps its own reason, on every route (issue 8, part 14)."""

from __future__ import annotations

import pytest

from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run
from semclust.study.workspace import Study


@pytest.fixture(scope="module")
def demo_study(tmp_path_factory):
    from semclust.study.demo_corpus import make_demo_corpus

    folder = tmp_path_factory.mktemp("reasons")
    csv = make_demo_corpus(folder / "corpus", n_per_theme=4, seed=3)
    study = Study(folder / "study")
    study.ingest(csv, progress=False)
    study.describe("column:alt_text")
    yield study
    study.close()


def _config(route):
    return RunConfig(describer="column:alt_text", embedder="tfidf:8", reducer="none", clusterer="kmeans:3",
                     map="none", route=route, image_embedder="cnn:resnet18", image_weights="random")


@pytest.mark.parametrize("route", ["image", "concat", "text"])
def test_unreadable_images_keep_their_ingest_error_on_every_route(demo_study, route):
    run = cluster_run(demo_study, _config(route), progress=False)
    items = demo_study.items().set_index("id")
    unreadable = items.index[items["status"] != "ok"]
    assert len(unreadable) >= 2  # the demo corpus has a corrupt and an empty file
    notes = run.assignments.set_index("id")["note"]
    for item_id in unreadable:
        assert notes[item_id] == f"unreadable image: {items.loc[item_id, 'error']}"
    assert not notes.str.contains("not embedded").any()
