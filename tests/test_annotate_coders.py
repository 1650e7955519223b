"""Coders: created only by starting, bound to their browser, listed, removed, renamed; links,
scales and error pages of the coding app (TestClient; the browser tests are separate)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from semclust.cli import app as cli
from semclust.validation import sampling
from semclust.validation.annotate import AnnotationStore, create_app, export_answers, load_task
from semclust.validation.annotate.links import coder_token, group_token, read_invitation
from semclust.validation.annotate.scales import PRESETS, ScaleError, load_scales
from semclust.validation.annotate.tasks import AnnotationError
from semclust.validation.evaluate import within_cluster_consistency


@pytest.fixture
def study(tmp_path, make_image):
    from semclust.study.workspace import Study

    for i in range(8):
        make_image(tmp_path / "images" / f"img{i}.png", seed=i)
    folder = tmp_path / "study"
    with Study(folder) as s:
        s.ingest(tmp_path / "images", progress=False)
        images = s.items().set_index("id")["image"]
    return folder, images


@pytest.fixture
def pairs_task(study, tmp_path):
    folder, images = study
    pairs = sampling.draw_pairs(images.index.tolist(), 4, random_state=0)
    provenance = sampling.Provenance("pairs", "s", None, 0)
    sampling.export_pairs(pairs, images, tmp_path / "pairs", provenance, coders=["c"])
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, tmp_path / "pairs.csv")
    return folder, task


def _answer(client, coder, number, **codes):
    return client.post(f"/code/{coder}/{number}", data={"action": "save", **codes})


def test_a_visit_creates_no_coder_and_errors_are_pages(pairs_task):
    folder, task = pairs_task
    with TestClient(create_app(folder, task.name)) as client:
        page = client.get("/code/nobody/1")
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        assert "Cannot show this page" in page.text and "no such coder" in page.text
        assert client.get("/code/nobody").status_code == 404
        assert _answer(client, "nobody", 1, denotative="1", connotative="1").status_code == 404
        missing = client.get("/no/such/page")
        assert missing.status_code == 404 and missing.text.startswith("<!DOCTYPE html>")
    with AnnotationStore(folder) as store:
        assert store.coders(task) == [] and store.answers(task) == []


def test_another_browser_can_neither_see_nor_change_a_coders_answers(pairs_task):
    folder, task = pairs_task
    app = create_app(folder, task.name)
    with TestClient(app) as mine, TestClient(app) as theirs:
        assert mine.post("/start", data={"coder": "ann"}).url.path == "/code/ann/1"
        _answer(mine, "ann", 1, denotative="2", connotative="2")
        assert theirs.get("/code/ann/1").status_code == 403
        assert theirs.get("/code/ann/units").status_code == 403
        assert _answer(theirs, "ann", 1, denotative="0", connotative="0").status_code == 403
        taken = theirs.post("/start", data={"coder": "ann"})
        assert taken.status_code == 400 and "is taken" in taken.text
        assert "ann" not in theirs.get("/").text  # not offered to continue as ann either
        assert 'href="/code/ann"' in mine.get("/").text
        assert mine.post("/start", data={"coder": "ann"}).url.path == "/code/ann/2"
        theirs.cookies.set(f"semclust_{task.id}", "ann.forged")
        assert theirs.get("/code/ann/1").status_code == 403
    with AnnotationStore(folder) as store:
        (answer,) = store.answers(task)
    assert answer.value == {"denotative": 2, "connotative": 2}


def test_coders_command_lists_removes_and_renames(pairs_task, tmp_path):
    folder, task = pairs_task
    with TestClient(create_app(folder, task.name)) as client:
        for coder, codes in (("ann", "21"), ("bob", "10"), ("cy", None)):
            client.post("/start", data={"coder": coder})
            if codes:
                _answer(client, coder, 1, denotative=codes[0], connotative=codes[1])
    runner = CliRunner()
    base = ["annotate", "coders", "--study", str(folder), "--task", task.name]
    listed = runner.invoke(cli, base)
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[1]: line.split()[2:] for line in listed.output.splitlines() if "│" in line}
    assert rows["ann"][:8] == ["│", "–", "│", "–", "│", "1", "│", "0"]
    assert rows["cy"][4:6] == ["│", "0"]  # started, nothing answered
    with AnnotationStore(folder) as store:
        assert list(export_answers(store, task.name).filter(like="_").columns) == [
            "id_a",
            "id_b",
            "denotative_ann",
            "denotative_bob",
            "connotative_ann",
            "connotative_bob",
        ]  # cy, without answers, is not a column
    assert runner.invoke(cli, [*base, "--remove", "bob"]).exit_code == 0
    renamed = runner.invoke(cli, [*base, "--rename", "ann", "anna"])
    assert renamed.exit_code == 0 and "anna" in renamed.output
    with AnnotationStore(folder) as store:
        table = export_answers(store, task.name)
        assert [c for c in table.columns if "_" in c and c not in ("id_a", "id_b")] == [
            "denotative_anna",
            "connotative_anna",
        ]
        kept = store._rows("SELECT coder FROM annotation_answers ORDER BY coder")
        assert [r["coder"] for r in kept] == ["anna", "bob"]  # bob's answer is kept, marked
        assert store.coder(task, "bob").removed_at is not None
        assert store.coder(task, "anna").former_names == ("ann",)
    again = runner.invoke(cli, [*base, "--remove", "bob"])
    assert again.exit_code == 1 and "no coder 'bob'" in again.output
    with TestClient(create_app(folder, task.name)) as client:
        assert client.post("/start", data={"coder": "bob"}).status_code == 400  # still taken


def test_consistency_export_without_an_idle_coder_evaluates(study, tmp_path):
    folder, images = study
    labels = pd.Series([0, 0, 0, 0, 1, 1, 1, 1], index=images.index)
    sample = sampling.consistency_sample(labels, per_cluster=2, random_state=0)
    items = pd.DataFrame({"id": images.index, "image": images.to_numpy()})
    sampling.export_consistency(
        sample, items, tmp_path / "themes", sampling.Provenance("consistency", "s", "r", 0)
    )
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, tmp_path / "themes.csv")
    with TestClient(create_app(folder, task.name)) as client:
        client.post("/start", data={"coder": "xprobe"})  # opens the app, codes nothing
        client.post("/start", data={"coder": "ann"})
        for number in range(1, 5):
            client.post(f"/code/ann/{number}", data={"action": "save", "theme": "same"})
    with AnnotationStore(folder) as store:
        table = export_answers(store, task.name)
    assert "theme_xprobe" not in table.columns
    coded = table.astype({"cluster": int})
    themes = [c for c in coded.columns if c.startswith("theme_")]
    assert themes == ["theme_ann"]  # what `evaluate --consistency` scores, column by column
    assert [within_cluster_consistency(coded, theme=c).mean for c in themes] == [1.0]


def test_signed_links_name_their_task_and_group(tmp_path, study):
    folder, images = study
    plan = pd.DataFrame({"id": images.index[:4], "cluster": [0, 1, 2, 3], "slot": [1, 1, 2, 2]})
    plan.to_csv(tmp_path / "plan.csv", index=False)
    (tmp_path / "plan.json").write_text(
        '{"parameters": {"groups": {"attribute": "party", "values": ["D", "R"]}}}'
    )
    scales = load_scales("emotions-casas")
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, tmp_path / "plan.csv", scales=scales)
        secret = store.fielding(task)["secret"]
        assert store.fielding(task)["secret"] == secret  # drawn once, kept
    token = group_token(secret, task, {"party": "D"}, "PROLIFIC_PID")
    assert read_invitation(secret, task, token).attributes == {"party": "D"}
    with pytest.raises(AnnotationError, match="not valid"):
        read_invitation("another secret", task, token)
    with pytest.raises(AnnotationError, match="choose your party"):
        group_token(secret, task, {"party": "Green"}, "PROLIFIC_PID")
    personal = coder_token(secret, task, "lab1", {"party": "R"})
    with TestClient(create_app(folder, task.name)) as client:
        assert client.get("/").status_code == 200  # names allowed until served links-only
        page = client.get(f"/join/{personal}")
        assert page.url.path == "/code/lab1/1" and "Unit 1 of 2" in page.text
        assert len(re.findall(r'type="radio"', page.text)) == 100  # 10 scales x 10 points
        ask = client.get(f"/join/{token}")  # no participant id: the page asks for it
        assert ask.status_code == 200 and 'name="PROLIFIC_PID"' in ask.text
        assert client.get(f"/join/{token}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}").status_code == 400
        bad = client.post("/code/lab1/1", data={"action": "save", "hopeful": "11"})
        assert bad.status_code == 400 and "from 1 to 10" in bad.text
        # in names mode a coder chooses the group on the start page; D's first slot is free
        started = client.post("/start", data={"coder": "dee", "group": "D"})
        assert started.url.path == "/code/dee/1"
        wrong = client.post("/start", data={"coder": "eve", "group": "X"})
        assert wrong.status_code == 400 and "choose your party" in wrong.text
    with AnnotationStore(folder) as store:
        slots = {c.name: (c.attributes, c.slot) for c in store.coder_rows(task)}
    assert slots == {"lab1": ({"party": "R"}, 1), "dee": ({"party": "D"}, 1)}


def test_scale_files_and_their_errors(tmp_path):
    preset = PRESETS["emotions-casas"]
    assert [s.name for s in preset][:3] == ["hopeful", "enthusiastic", "proud"]
    assert {s.dimension for s in preset} == {"enthusiasm", "aversion", "anxiety"}
    assert preset[0].keys()[10] == "0" and preset[0].keys()[3] == "3"
    from pathlib import Path

    example = Path(__file__).parents[1] / "examples" / "scales-emotions.yaml"
    assert load_scales(example) == preset  # the example file is the preset
    toml = tmp_path / "s.toml"
    toml.write_text('range = [0, 6]\n[[scales]]\nname = "calm"\nlow = "no"\nhigh = "yes"\n')
    (calm,) = load_scales(toml)
    assert (calm.low, calm.high, calm.low_label, calm.keys()[6]) == (0, 6, "no", "6")
    for text, message in (
        ("scales: []", "at least one scale"),
        ("scales: [{name: 'a b'}]", "must start with a letter"),
        ("scales: [{name: x, range: [5, 1]}]", "low < high"),
        ("scales: [{name: x}, {name: x}]", "more than once"),
        ("scales: [{name: id}]", "not be one of"),
        ("scales: [", "not valid YAML"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ScaleError, match=message):
            load_scales(bad)
    with pytest.raises(ScaleError, match="neither a preset"):
        load_scales("emotions")


def test_dashboard_agreement_by_hand_and_behind_its_token(study, tmp_path):
    from semclust.validation.annotate.dashboard import agreement_so_far
    from semclust.validation.annotate.links import admin_token
    from semclust.validation.annotate.tasks import Answer

    def given(coder, codes):
        return [Answer(p, coder, "answered", {"same": c}, "", "") for p, c in enumerate(codes)]

    # x: 0 1 1, y: 0 1 0 -> D_o = 2/6, D_e = (2 * 3 * 3) / (6 * 5): alpha = 1 - (1/3) / 0.6
    row = agreement_so_far(given("x", [0, 1, 1]) + given("y", [0, 1, 0]), "same", "nominal")
    assert row["units"] == 3 and row["agree"] == pytest.approx(2 / 3)
    assert row["alpha"] == pytest.approx(1 - (1 / 3) / 0.6)
    lonely = agreement_so_far(given("x", [0, 1]), "same", "nominal")
    assert (lonely["units"], lonely["alpha"], lonely["agree"]) == (0, None, None)

    folder, images = study
    ids = images.index.tolist()
    pd.DataFrame({"id_a": ids[:3], "id_b": ids[3:6], "same_c": ""}).to_csv(
        tmp_path / "same.csv", index=False
    )
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, tmp_path / "same.csv")
        token = admin_token(store.fielding(task)["secret"], task)
    with TestClient(create_app(folder, task.name)) as client:
        for coder, codes in (("x", [0, 1, 1]), ("y", [0, 1, 0])):
            client.post("/start", data={"coder": coder})
            with AnnotationStore(folder) as store:
                order = store.coder_order(task, coder)
            for number, position in enumerate(order, start=1):
                client.post(
                    f"/code/{coder}/{number}", data={"action": "save", "same": codes[position]}
                )
        page = client.get(f"/admin/{token}").text
        assert client.get("/admin/not-the-token").status_code == 404
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "same 3 67 % 0.44 (nominal)" in text
    assert "x – 3 of 3 0" in text and "y – 3 of 3 0" in text  # no slot, all done, 0 skipped


def test_personal_links_from_a_coders_file(pairs_task, tmp_path):
    folder, task = pairs_task
    (tmp_path / "coders.csv").write_text("coder\nalice\nbob\n")
    result = CliRunner().invoke(
        cli,
        ["annotate", "link", "--study", str(folder), "--task", task.name,
         "--coders-file", str(tmp_path / "coders.csv"), "--base-url", "http://testserver"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    links = dict(line.split("\t") for line in result.output.splitlines())
    assert set(links) == {"alice", "bob"}
    with TestClient(create_app(folder, task.name)) as client:
        page = client.get(links["alice"].removeprefix("http://testserver"))
        assert page.url.path == "/code/alice/1"
        again = client.get(links["alice"].removeprefix("http://testserver"))
        assert again.url.path == "/code/alice/1"  # the same browser continues
    with TestClient(create_app(folder, task.name)) as other:
        refused = other.get(links["alice"].removeprefix("http://testserver"))
        assert refused.status_code == 403 and "another browser" in refused.text
    (tmp_path / "bad.csv").write_text("name\nalice\n")
    bad = CliRunner().invoke(
        cli, ["annotate", "link", "--study", str(folder), "--task", task.name,
              "--coders-file", str(tmp_path / "bad.csv")],
    )  # fmt: skip
    assert bad.exit_code == 1 and "needs a 'coder' column" in bad.output


def test_serve_keeps_the_completion_settings_across_restarts(pairs_task, tmp_path, monkeypatch):
    import uvicorn

    folder, task = pairs_task
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    serve = ["annotate", "serve", "--study", str(folder), "--task", str(tmp_path / "pairs.csv")]

    def fielding():
        with AnnotationStore(folder) as store:
            return store.fielding(task)

    first = CliRunner().invoke(cli, [*serve, "--completion-code", "C0DE"])
    assert first.exit_code == 0 and "/admin/" in first.output
    assert CliRunner().invoke(cli, serve).exit_code == 0
    assert fielding()["completion_code"] == "C0DE" and fielding()["links_only"] is False
    assert CliRunner().invoke(cli, [*serve, "--completion-code", "", "--links-only"]).exit_code == 0
    assert "completion_code" not in fielding() and fielding()["links_only"] is True
