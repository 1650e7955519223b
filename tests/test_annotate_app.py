"""The coding app through FastAPI's TestClient: tasks from real samples, answers, export."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from PIL import Image
from typer.testing import CliRunner

from semclust.validation import sampling
from semclust.validation.annotate import (
    AnnotationError,
    AnnotationStore,
    create_app,
    export_answers,
    load_task,
)
from semclust.validation.annotate.export import write_table
from semclust.validation.annotate.tasks import coder_seed, next_index, read_sample
from semclust.validation.evaluate import score_interpretability, within_cluster_consistency
from semclust.validation.evaluate.codes import load_codes

N_IMAGES = 10
SECRET_CLUSTER = "CLUSTER-SECRET-4711"


@pytest.fixture
def study(tmp_path, make_image):
    """A study of 10 small images, half of them in a subfolder (ids with a slash)."""
    from semclust.study.workspace import Study

    for i in range(N_IMAGES):
        make_image(tmp_path / "images" / ("sub" if i % 2 else "") / f"img{i:02d}.png", seed=i)
    folder = tmp_path / "study"
    with Study(folder) as s:
        s.ingest(tmp_path / "images", progress=False)
        items = s.items()
    return folder, items.set_index("id")["image"]


def _provenance(kind: str, run: str | None = None) -> sampling.Provenance:
    return sampling.Provenance(kind, "study", run, 0)


@pytest.fixture
def pairs_task(study, tmp_path):
    """A 6-pair sample written by the sampling module, loaded as task ``pairs``."""
    folder, images = study
    pairs = sampling.draw_pairs(images.index.tolist(), 6, random_state=1)
    sampling.export_pairs(
        pairs, images, tmp_path / "s" / "pairs", _provenance("pairs"), coders=["c1"]
    )
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, tmp_path / "s" / "pairs.csv")
    return folder, task, pairs


def _client(folder, name) -> TestClient:
    return TestClient(create_app(folder, name))


def _answer(client, coder, number, **fields):
    return client.post(f"/code/{coder}/{number}", data={"action": "save", **fields})


def _progress(html: str) -> str:
    return re.search(r'id="progress-text">([^<]*)<', html).group(1)


def test_two_coders_answers_persist_change_and_export(pairs_task):
    folder, task, pairs = pairs_task
    given = {
        "ann": [(2, 1), (0, 0), (1, 2), (2, 2)],
        "bob": [(2, 2), (0, 1)],
    }
    with _client(folder, task.name) as client:
        for coder, codes in given.items():
            start = client.post("/start", data={"coder": coder})
            assert start.url.path == f"/code/{coder}/1"
            for number, (d, c) in enumerate(codes, start=1):
                page = _answer(client, coder, number, denotative=str(d), connotative=str(c))
                assert page.status_code == 200
                assert page.url.path == f"/code/{coder}/{number + 1}"
        cookies = dict(client.cookies)  # the browser's sessions of both coders
    with AnnotationStore(folder) as store:  # each coder's order: the recorded seeded permutation
        orders = {c: store.coder_order(task, c) for c in given}
    for coder, order in orders.items():
        expected = np.random.default_rng(coder_seed(0, coder)).permutation(6).tolist()
        assert order == expected
    assert orders["ann"] != orders["bob"]

    with _client(folder, task.name) as client:  # a new app: the answers are still there
        client.cookies.update(cookies)
        assert _progress(client.get("/code/ann").text) == "4 of 6 done"
        resumed = client.get("/code/bob")
        assert resumed.url.path == "/code/bob/3" and _progress(resumed.text) == "2 of 6 done"
        back = client.get("/code/ann/1").text  # the saved answer is shown checked
        assert re.search(r'value="2" data-key="d" required checked', back)
        assert re.search(r'value="1" data-key="k" required checked', back)
        _answer(client, "ann", 1, denotative="0", connotative="0")  # change it
        assert _progress(client.get("/code/ann").text) == "4 of 6 done"

    given["ann"][0] = (0, 0)
    expected = {}
    for coder, codes in given.items():
        for number, (d, c) in enumerate(codes):
            unit = task.units[orders[coder][number]]
            expected[(unit.items, f"denotative_{coder}")] = d
            expected[(unit.items, f"connotative_{coder}")] = c
    with AnnotationStore(folder) as store:
        table = export_answers(store, task.name)
    assert list(table.columns) == [
        "pair",
        "id_a",
        "id_b",
        "denotative_ann",
        "denotative_bob",
        "connotative_ann",
        "connotative_bob",
    ]
    found = {
        ((row["id_a"], row["id_b"]), column): row[column]
        for row in table.to_dict(orient="records")
        for column in table.columns[3:]
        if not pd.isna(row[column])
    }
    assert found == expected
    sample_order = [(a, b) for a, b in zip(pairs["id_a"], pairs["id_b"], strict=True)]
    rows = list(zip(table["id_a"], table["id_b"], strict=True))
    assert rows == [p for p in sample_order if p in rows]  # in the sample's order

    path = write_table(table, folder / "codes.csv")
    codes = load_codes(path)
    assert codes.scale == "0-2"
    assert codes.ratings("connotative").columns.tolist() == ["ann", "bob"]
    assert len(codes.frame) == len(table)
    with pytest.raises(AnnotationError, match="exists"):
        write_table(table, path)


def test_skip_keeps_answers_and_comes_back_last(pairs_task):
    folder, task, _ = pairs_task
    with _client(folder, task.name) as client:
        client.post("/start", data={"coder": "eve"})
        after_skip = client.post("/code/eve/1", data={"action": "skip"})
        assert after_skip.url.path == "/code/eve/2"
        assert _progress(after_skip.text) == "0 of 6 done, 1 skipped"
        for number in range(2, 7):
            page = _answer(client, "eve", number, denotative="1", connotative="2")
        assert page.url.path == "/code/eve/1"  # the skipped unit, once the rest is done
        client.post("/code/eve/3", data={"action": "skip"})  # skipping an answered unit
        done = _answer(client, "eve", 1, denotative="0", connotative="0")
        assert done.url.path == "/code/eve/units" and "All done" in done.text
    with AnnotationStore(folder) as store:
        statuses = [a.status for a in store.answers(task, "eve")]
    assert statuses == ["answered"] * 6


def test_next_index_prefers_unseen_then_skipped():
    from semclust.validation.annotate.tasks import Answer

    def answer(position, status):
        return Answer(position, "x", status, None, "", "")

    order = [3, 0, 2, 1]
    assert next_index(order, []) == 0
    answers = [answer(3, "skipped"), answer(0, "answered")]
    assert next_index(order, answers, after=1) == 2
    answers += [answer(2, "answered"), answer(1, "answered")]
    assert next_index(order, answers, after=3) == 0  # only the skipped one is left
    assert next_index(order, [answer(p, "answered") for p in order]) is None


def test_incomplete_answer_is_refused_and_not_stored(pairs_task):
    folder, task, _ = pairs_task
    with _client(folder, task.name) as client:
        client.post("/start", data={"coder": "ann"})
        page = _answer(client, "ann", 1, denotative="2")
        assert page.status_code == 400
        assert "rate the connotative similarity" in page.text
        assert _answer(client, "ann", 1, denotative="2", connotative="7").status_code == 400
        assert client.get("/code/ann/7").status_code == 404
    with AnnotationStore(folder) as store:
        assert store.answers(task, "ann") == []


def test_images_by_task_item_id_only(pairs_task, study):
    folder, task, _ = pairs_task
    _, images = study
    shown = sorted(task.item_ids)
    other = next(i for i in images.index if i not in task.item_ids)
    nested = next(i for i in shown if "/" in i)
    with _client(folder, task.name) as client:
        response = client.get("/image/" + nested.replace("/", "%2F"))
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(response.content)).size == (128, 96)
        for url in (
            "/image/unknown.png",
            f"/image/{other}",  # in the study, but not in this task
            "/image/..%2F..%2Fstudy%2Fstudy.sqlite",
            "/image/..%2Fstudy.sqlite",
            "/image/%2e%2e/%2e%2e/etc/passwd",
            "/image/" + images[shown[0]],  # a path, not an id
            "/image//etc/passwd",
        ):
            assert client.get(url).status_code == 404, url


def test_untrusted_names_and_texts_are_escaped(pairs_task):
    folder, task, _ = pairs_task
    with _client(folder, task.name) as client:
        page = client.post("/start", data={"coder": "<script>alert(1)</script>"})
        assert page.status_code == 400
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert client.get("/code/%3Cscript%3E").status_code == 404


def test_pairs_pages_never_show_clusters(study, tmp_path):
    folder, images = study
    ids = images.index.tolist()
    table = pd.DataFrame(
        {
            "id_a": ids[:3],
            "id_b": ids[3:6],
            "cluster_a": [SECRET_CLUSTER] * 3,
            "cluster_b": ["77123"] * 3,
            "keywords": ["secret-keyword-xyz"] * 3,
        }
    )
    table.to_csv(tmp_path / "pairs_blind.csv", index=False)
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, tmp_path / "pairs_blind.csv")
    with _client(folder, task.name) as client:
        pages = [client.get("/").text, client.post("/start", data={"coder": "ann"}).text]
        pages += [_answer(client, "ann", 1, denotative="0", connotative="1").text]
        pages += [client.get("/code/ann/units").text]
    for html in pages:
        for secret in (SECRET_CLUSTER, "77123", "secret-keyword-xyz", "cluster"):
            assert secret not in html


def _interpretability_sample(study, tmp_path):
    """Two clusters (9001, 9002) of five items, one set of two per cluster, three letters."""
    folder, images = study
    labels = pd.Series([9001] * 5 + [9002] * 5, index=images.index[:10])
    descriptions = {9001: "solar, wind <b>energy</b>", 9002: "protest, street, crowd"}
    test = sampling.interpretability_test(labels, descriptions, n_sets=2, set_size=2)
    prefix = tmp_path / "s" / "interp"
    sampling.export_interpretability(
        test, images, prefix, _provenance("interpretability", "run1"), evaluators=["e1"]
    )
    return folder, test, prefix


def test_interpretability_answers_round_trip(study, tmp_path):
    folder, test, prefix = _interpretability_sample(study, tmp_path)
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, prefix.with_name("interp-key.csv"))
    assert task.name == "interp" and len(task.units) == 4
    letter_of = dict(zip(test.letters["cluster"], test.letters["letter"], strict=True))
    truth = dict(zip(test.sets["set_id"], test.sets["true_cluster"], strict=True))
    wrong = {9001: 9002, 9002: 9001}
    chosen = {"ann": {}, "bob": {}}
    with _client(folder, task.name) as client:
        for coder in chosen:
            client.post("/start", data={"coder": coder})
            with AnnotationStore(folder) as store:
                order = store.coder_order(task, coder)
            for number, position in enumerate(order, start=1):
                set_id = task.units[position].unit
                page = client.get(f"/code/{coder}/{number}").text
                assert "solar, wind &lt;b&gt;energy&lt;/b&gt;" in page
                assert "9001" not in page and "9002" not in page
                # ann is always right; bob gets the first set of his order wrong
                cluster = truth[set_id] if coder == "ann" or number > 1 else wrong[truth[set_id]]
                chosen[coder][set_id] = cluster
                _answer(client, coder, number, letter=letter_of[cluster].lower())

    with AnnotationStore(folder) as store:
        letters = export_answers(store, task.name)
        clusters = export_answers(store, task.name, clusters=True)
    assert list(letters.columns) == ["set_id", "ann", "bob"]
    assert list(clusters.columns) == ["set_id", "true_cluster", "ann", "bob"]
    for coder, answers in chosen.items():
        assert dict(zip(letters["set_id"], letters[coder], strict=True)) == {
            s: letter_of[c] for s, c in answers.items()
        }
        assert dict(zip(clusters["set_id"], clusters[coder], strict=True)) == answers
    assert dict(zip(clusters["set_id"], clusters["true_cluster"], strict=True)) == truth

    scored = score_interpretability(clusters, clusters=[9001, 9002])
    assert scored.n_tied == 1  # bob's wrong set: ann (the first evaluator) decides
    assert scored.accuracy == 1.0
    path = write_table(letters, tmp_path / "answers.csv")
    read = sampling.read_interpretability(path, prefix.with_name("interp-key.csv"))
    again = score_interpretability(read.table, evaluators=read.evaluators, clusters=read.clusters)
    assert again.accuracy == scored.accuracy and read.run == "run1"


def test_consistency_themes_autocomplete_and_export(study, tmp_path):
    folder, images = study
    labels = pd.Series([9001] * 5 + [9002] * 5, index=images.index[:10])
    sample = sampling.consistency_sample(labels, per_cluster=2, random_state=0)
    items = pd.DataFrame({"id": images.index, "image": images.to_numpy()})
    items["post"] = ["<script>alert('x')</script> hello"] * len(items)
    prefix = tmp_path / "s" / "consistency"
    sampling.export_consistency(
        sample,
        items,
        prefix,
        sampling.Provenance("consistency", "s", "r", 0, {"text_column": "post"}),
        text_column="post",
    )
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, prefix.with_name("consistency.csv"))
    themes = ["protest", "energy", "  protest ", "Protest  "]
    with _client(folder, task.name) as client:
        first = client.post("/start", data={"coder": "ann"}).text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; hello" in first
        assert "<script>alert" not in first
        assert "9001" not in first and "9002" not in first
        for number, theme in enumerate(themes[:3], start=1):
            page = _answer(client, "ann", number, theme=theme)
        options = re.findall(r'<option value="([^"]*)">', page.text)
        assert options == ["protest", "energy"]  # most used first
        _answer(client, "ann", 4, theme=themes[3])
        assert _answer(client, "ann", 1, theme="   ").status_code == 400
    with AnnotationStore(folder) as store:
        table = export_answers(store, task.name)
        order = store.coder_order(task, "ann")
    assert list(table.columns) == ["id", "cluster", "theme_ann"]
    expected = {task.units[p].unit: t.strip() for p, t in zip(order, themes, strict=False)}
    assert dict(zip(table["id"], table["theme_ann"], strict=True)) == expected
    by_id = dict(zip(sample["id"], sample["cluster"].astype(str), strict=True))
    assert table["cluster"].tolist() == [by_id[i] for i in table["id"]]
    result = within_cluster_consistency(table[["id", "theme_ann", "cluster"]], theme="theme_ann")
    counted = table.groupby("cluster")["theme_ann"].agg(lambda t: t.value_counts().iloc[0] / len(t))
    assert result.mean == pytest.approx(counted.mean())


def test_sample_files_that_cannot_be_tasks(study, tmp_path):
    folder, images = study
    stratified = sampling.stratified_sample(pd.Series([1] * 5 + [2] * 5, index=images.index))
    stratified.to_csv(tmp_path / "strat.csv", index=False)
    with pytest.raises(AnnotationError, match="stratified"):
        read_sample(tmp_path / "strat.csv")
    pd.DataFrame({"id_a": ["img00.png"], "id_b": ["nope.png"]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    with AnnotationStore(folder) as store, pytest.raises(AnnotationError, match="'nope.png'"):
        load_task(store, folder, tmp_path / "p.csv")
    pd.DataFrame({"id_a": ["img00.png", "a"], "id_b": ["img00.png", "b"]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    with pytest.raises(
        AnnotationError, match="line 2 of p.csv: pairs image 'img00.png' with itself"
    ):
        read_sample(tmp_path / "p.csv")


def test_a_changed_sample_cannot_take_over_a_task(pairs_task, tmp_path):
    folder, task, pairs = pairs_task
    with AnnotationStore(folder) as store:
        assert load_task(store, folder, tmp_path / "s" / "pairs.csv").id == task.id
        with pytest.raises(AnnotationError, match="seed"):
            load_task(store, folder, tmp_path / "s" / "pairs.csv", seed=5)
        pairs.iloc[:3].to_csv(tmp_path / "s" / "pairs2.csv", index=False)
        with pytest.raises(AnnotationError, match="other content"):
            load_task(store, folder, tmp_path / "s" / "pairs2.csv", name=task.name)
        assert load_task(store, folder, tmp_path / "s" / "pairs2.csv").name == "pairs2"


def test_cli_export_tasks_and_serve(pairs_task, tmp_path, monkeypatch, caplog):
    import uvicorn

    from semclust.cli import app

    folder, task, _ = pairs_task
    with _client(folder, task.name) as client:
        client.post("/start", data={"coder": "ann"})
        client.post("/start", data={"coder": "bob"})  # started, never answered: not exported
        _answer(client, "ann", 1, denotative="0", connotative="2")
    runner = CliRunner()
    out = tmp_path / "codes.csv"
    result = runner.invoke(
        app, ["annotate", "export", "--study", str(folder), "--task", task.name, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert load_codes(out).frame[["denotative_ann", "connotative_ann"]].values.tolist() == [[0, 2]]
    assert not any("bob" in column for column in pd.read_csv(out).columns)
    listed = runner.invoke(app, ["annotate", "tasks", "--study", str(folder)])
    assert listed.exit_code == 0 and "ann" in listed.output and task.name in listed.output
    missing = runner.invoke(
        app, ["annotate", "export", "--study", str(folder), "--task", "nope", "--out", str(out)]
    )
    assert missing.exit_code == 1 and "no task named 'nope'" in missing.output

    served = {}
    monkeypatch.setattr(
        uvicorn, "run", lambda app, host, port, **kw: served.update(host=host, app=app)
    )
    args = [
        "annotate",
        "serve",
        "--study",
        str(folder),
        "--task",
        str(tmp_path / "s" / "pairs.csv"),
    ]
    result = runner.invoke(app, [*args, "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert served["host"] == "0.0.0.0"
    assert "anyone who can reach this machine" in caplog.text
    with TestClient(served["app"], base_url="http://192.168.1.5:8765") as client:
        assert client.get("/").status_code == 200  # any Host when bound to the network
    runner.invoke(app, args)
    assert served["host"] == "127.0.0.1"
    with TestClient(served["app"], base_url="http://attacker.example:8765") as client:
        assert client.get("/").status_code == 400  # DNS rebinding: foreign Host refused
    with TestClient(served["app"], base_url="http://127.0.0.1:8765") as client:
        assert client.get("/").status_code == 200


def test_grouped_consistency_keeps_clusters_together(study, tmp_path):
    folder, images = study
    labels = pd.Series([9001] * 4 + [9002] * 3 + [9003] * 3, index=images.index[:10])
    sample = sampling.consistency_sample(labels, per_cluster=3, random_state=0)
    items = pd.DataFrame({"id": images.index, "image": images.to_numpy()})
    prefix = tmp_path / "s" / "grouped"
    sampling.export_consistency(sample, items, prefix, _provenance("consistency", "r"))
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, prefix.with_name("grouped.csv"), grouped=True)
        order = store.add_coder(task, "ann", session_key="k") and store.coder_order(task, "ann")
    clusters = [task.units[p].key["cluster"] for p in order]
    runs = [c for i, c in enumerate(clusters) if i == 0 or c != clusters[i - 1]]
    assert sorted(runs) == ["9001", "9002", "9003"]  # each cluster in one stretch
    with _client(folder, task.name) as client:
        client.post("/start", data={"coder": "ann"})  # taken, and this browser does not hold it
        assert client.get("/code/ann/1").status_code == 403
        with AnnotationStore(folder) as store:
            secret = store.fielding(task)["secret"]
        session = URLSafeSerializer(secret, salt="semclust.annotate.session").dumps({"ann": "k"})
        client.cookies.set(f"semclust_{task.id}", session)
        pages = [client.get(f"/code/ann/{n}").text for n in (1, 3, 4, 9)]
    groups = [re.search(r"Group (\d) of 3", page).group(1) for page in pages]
    assert groups == ["1", "1", "2", "3"]
    assert not any(c in page for page in pages for c in ("9001", "9002", "9003"))
    pd.DataFrame({"id_a": ["img00.png"], "id_b": ["img02.png"]}).to_csv(tmp_path / "p.csv")
    with pytest.raises(AnnotationError, match="only a consistency sample"):
        read_sample(tmp_path / "p.csv", grouped=True)


def test_binary_same_dimension(study, tmp_path):
    folder, images = study
    ids = images.index.tolist()
    table = pd.DataFrame({"id_a": ids[:2], "id_b": ids[2:4], "same_c1": ["", ""]})
    table.to_csv(tmp_path / "same.csv", index=False)
    with AnnotationStore(folder) as store:
        task = load_task(store, folder, tmp_path / "same.csv")
    assert task.spec.settings["dimensions"] == ["same"]
    with _client(folder, task.name) as client:
        page = client.post("/start", data={"coder": "ann"}).text
        assert re.findall(r'data-key="(\w)"', page) == ["n", "y"]
        assert "belong together" in page and "loosely" not in page
        assert _answer(client, "ann", 1, same="2").status_code == 400
        _answer(client, "ann", 1, same="1")
        _answer(client, "ann", 2, same="0")
    with AnnotationStore(folder) as store:
        codes = load_codes(export_answers(store, task.name))
        order = store.coder_order(task, "ann")
    pairs = zip(codes.frame["id_a"], codes.frame["id_b"], strict=True)
    coded = dict(zip(pairs, codes.frame["same_ann"], strict=True))
    assert coded == {task.units[order[0]].items: 1.0, task.units[order[1]].items: 0.0}
