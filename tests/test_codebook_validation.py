"""Validating a codebook-seeded run: a sample stratified by code, coded in the app against the
codebook, scored per code (precision, recall) and by Krippendorff's alpha with the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from codebook_corpus import make_set
from semclust.core.errors import SemclustError
from semclust.study.config import RunConfig
from semclust.study.seeded import seeded_execute_run
from semclust.study.workspace import Study
from semclust.validation.annotate.model import AnnotationError
from semclust.validation.annotate.samples import read_sample
from semclust.validation.annotate.tasks import parse_answer
from semclust.validation.code_sample import NO_CODE
from semclust.validation.evaluate.code_agreement import code_agreement_section
from semclust.validation.sampling import SampleOptions, draw_sample


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    table, codes = make_set({"protest": 30, "flood": 30, "food": 30}, {"wedding": 30}, seed=7)
    folder = tmp_path_factory.mktemp("study")
    with Study(folder) as study:
        study.add(table, id="id", text="text", progress=False)
        run = seeded_execute_run(study, RunConfig(map="none"), codes, "auto", new_themes=True, progress=False)
    return folder, run, table.set_index("id")["theme"]


def test_code_sample_is_stratified_by_code_and_blind(seeded):
    folder, run, _ = seeded
    files = draw_sample("codes", folder, run.id, SampleOptions(per_cluster=6, coders=("ann", "bob")), seed=1)
    sample = pd.read_csv(files[0])
    assert {"theme_ann", "theme_bob"} <= set(sample.columns) and "code" not in sample.columns
    drawn = run.assignments.set_index("id").loc[sample["id"], "code"].replace("", NO_CODE)
    assert drawn.value_counts().to_dict() == {c: 6 for c in ["protest", "flood", "food", NO_CODE]}
    spec = read_sample(files[0])
    assert [c["name"] for c in spec.settings["codebook"]] == ["protest", "flood", "food"]


def test_the_app_accepts_only_a_code_or_none(seeded):
    folder, run, _ = seeded
    files = draw_sample("codes", folder, run.id, SampleOptions(per_cluster=3), seed=2, overwrite=True)

    class Task:
        kind = "consistency"
        spec = read_sample(files[0])

    assert parse_answer(Task, {"theme": "flood"}) == {"theme": "flood"}
    assert parse_answer(Task, {"theme": NO_CODE}) == {"theme": NO_CODE}
    with pytest.raises(AnnotationError, match="choose one of the codes"):
        parse_answer(Task, {"theme": "weddings"})


def _coded(folder, run, truth, flip=0):
    files = draw_sample("codes", folder, run.id, SampleOptions(per_cluster=10, coders=("ann", "bob")),
                        seed=3, overwrite=True)
    sample = pd.read_csv(files[0])
    true = sample["id"].map(truth).where(lambda t: t.isin(["protest", "flood", "food"]), NO_CODE)
    sample["theme_ann"] = true
    sample["theme_bob"] = true
    sample.loc[: flip - 1, "theme_bob"] = "food" if flip else sample["theme_bob"]
    path = folder / "coded.csv"
    sample.to_csv(path, index=False)
    return path, sample


def test_per_code_precision_recall_against_a_hand_computation(seeded):
    folder, run, truth = seeded
    path, sample = _coded(folder, run, truth)
    section = code_agreement_section(run, path).data
    model = run.assignments.set_index("id")["code"].replace("", NO_CODE)
    strata = model[run.assignments.set_index("id")["cluster"].notna()]
    drawn = model.loc[sample["id"]].to_numpy()
    weight = strata.value_counts()[drawn].to_numpy() / pd.Series(drawn).value_counts()[drawn].to_numpy()
    true = sample["theme_ann"].to_numpy()
    for row in section["per_code"]:
        c = row["code"]
        hits = weight[(true == c) & (drawn == c)].sum()
        assert row["precision"] == pytest.approx(hits / weight[drawn == c].sum())
        assert row["recall"] == pytest.approx(hits / weight[true == c].sum())
    print("per-code (precision, recall):", {r["code"]: (round(r["precision"], 3), round(r["recall"], 3))
                                            for r in section["per_code"]})
    assert section["alpha_coders"] == pytest.approx(1.0)
    # the model as a third coder: alpha below 1 exactly when it disagrees somewhere
    assert (section["alpha_coders_and_model"] < 1.0) == bool((drawn != true).any())


def test_alpha_falls_when_a_coder_disagrees(seeded):
    folder, run, truth = seeded
    path, _ = _coded(folder, run, truth, flip=8)
    section = code_agreement_section(run, path).data
    assert section["alpha_coders"] < 1.0
    import krippendorff

    sample = pd.read_csv(path)
    codes = {c: i for i, c in enumerate(sorted(set(sample["theme_ann"]) | set(sample["theme_bob"])))}
    matrix = np.array([sample["theme_ann"].map(codes), sample["theme_bob"].map(codes)], dtype=float)
    assert section["alpha_coders"] == pytest.approx(krippendorff.alpha(reliability_data=matrix,
                                                                      level_of_measurement="nominal"))


def test_a_code_not_in_the_codebook_is_one_clear_error(seeded):
    folder, run, truth = seeded
    path, sample = _coded(folder, run, truth)
    sample.loc[0, "theme_ann"] = "riot"
    sample.to_csv(path, index=False)
    with pytest.raises(SemclustError, match="'riot' is not a code"):
        code_agreement_section(run, path)
