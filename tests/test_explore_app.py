"""The explore app over HTTP: pages, galleries, search, security; export; the LLM namer."""

from __future__ import annotations

import json
import zipfile

import pytest
from fastapi.testclient import TestClient

from explore_corpus import make_study
from fake_llm_server import FakeLLMServer, Reply, ollama_body, openai_body
from semclust.core.errors import SemclustError
from semclust.exploration.app import create_app
from semclust.exploration.export import export_run
from semclust.exploration.namer import NamerOptions, name_clusters, parse_name
from semclust.exploration.search import SearchIndex, fts_query
from semclust.exploration.thumbs import cache_size

BASE = "http://127.0.0.1:8766"
SAME_ORIGIN = {"Origin": BASE}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    study, run = make_study(tmp_path_factory.mktemp("explore"), 600, n_images=20, k=4)
    yield study, run
    study.close()


@pytest.fixture
def client(built):
    study, run = built
    with TestClient(create_app(study.folder, run.id), base_url=BASE) as c:
        yield c


def test_gallery_pages_cover_every_member_once_in_centroid_order(client, built):
    _, run = built
    members = run.assignments[run.assignments["cluster"] == 1]
    seen = []
    offset = 0
    while True:
        page = client.get(f"/api/cluster/1?offset={offset}&limit=50").json()
        assert page["total"] == len(members)
        if not page["items"]:
            break
        seen += [i["id"] for i in page["items"]]
        offset += len(page["items"])
    assert sorted(seen) == sorted(members["id"])
    expected = members.sort_values("centroid_distance", kind="stable")["id"].tolist()
    assert seen == expected
    by_likes = client.get("/api/cluster/1?sort=column&column=likes&desc=true&limit=5").json()["items"]
    likes = [int(run.assignments.set_index("id").loc[i["id"], "likes"]) for i in by_likes]
    assert likes == sorted(members["likes"], reverse=True)[:5]
    only = client.get("/api/cluster/1?col=account&val=user3&limit=1000").json()
    assert only["total"] == int((members["account"] == "user3").sum())


def test_thumbnails_are_made_once_and_small(client, built):
    study, run = built
    item = run.assignments["id"].iloc[0]
    first = client.get(f"/thumb/{item}")
    assert first.status_code == 200 and first.headers["content-type"] == "image/webp"
    n, size = cache_size(study.folder)
    assert n >= 1 and size / n < 10_000  # a few KB each
    again = client.get(f"/thumb/{item}")
    assert again.content == first.content and cache_size(study.folder)[0] == n
    assert client.get("/image/" + item).headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize("path", ["/thumb/../../etc/passwd", "/image/%2Fetc%2Fpasswd", "/thumb/nope",
                                  "/image/..%2F..%2Fstudy.sqlite"])
def test_no_path_from_a_request_reaches_the_file_system(client, path):
    assert client.get(path).status_code == 404


def test_an_edit_of_a_missing_cluster_is_refused(client):
    bad = client.post("/api/edit", json={"edits": [{"op": "merge", "clusters": [0, 99]}]}, headers=SAME_ORIGIN)
    assert bad.status_code == 400 and "no cluster 99" in bad.json()["detail"]


def test_rename_from_the_app_makes_a_new_run_and_escapes_the_name(client, built):
    _, run = built
    name = '<script>alert("x")</script>'
    result = client.post("/api/edit", json={"edits": [{"op": "name", "cluster": 0, "name": name}]},
                         headers=SAME_ORIGIN).json()
    assert result["parent"] == run.id and result["run"] != run.id
    page = client.get("/").text
    assert name not in page and "&lt;script&gt;alert(" in page
    assert client.get("/api/map").json()["clusters"][0]["title"] == f"0: {name}"  # JSON, drawn as text
    back = client.post("/api/open", json={"run": run.id}, headers=SAME_ORIGIN)
    assert back.json()["run"] == run.id  # undo = open the parent


def test_search_finds_words_and_survives_fts_syntax(client, built):
    page = client.get("/search", params={"q": "turbine"}).text
    assert page.count('class="hit"') > 10 and "[turbine]" in page
    for hostile in ['"', "NEAR(", "a OR", "*", "-x", "<img src=x onerror=alert(1)>"]:
        response = client.get("/search", params={"q": hostile})
        assert response.status_code == 200 and "<img src=x" not in response.text
    assert fts_query('say "hi" OR NEAR(') == '"say" "hi" "OR" "NEAR"*'


def test_search_index_is_rebuilt_only_when_texts_change(built, tmp_path):
    _, run = built
    table = run.assignments.head(50).copy()
    index = SearchIndex(tmp_path, table)
    assert index.search("flood")
    table["description"] = "nothing here"
    table["text"] = table["input_description"] = ""  # the input column is post text too
    index.close()
    index = SearchIndex(tmp_path, table)
    assert index.search("flood") == [] and len(index.search("nothing")) == 50
    index.close()


def test_failures_page_lists_every_item_not_clustered(client, built):
    _, run = built
    missing = run.assignments[run.assignments["cluster"].isna()]
    assert len(missing) > 0
    page = client.get("/failures").text
    for item in missing["id"]:
        assert f"<td>{item}</td>" in page
    header = client.get("/").text
    assert "600 input items" in header
    csv = client.get("/failures.csv").text
    assert csv.count("duplicate") == 600 - 20  # 20 distinct files, each later copy is a duplicate


def test_map_payload_and_plotly_served_locally(client, built):
    _, run = built
    payload = client.get("/api/map").json()
    clustered = run.assignments["cluster"].notna().sum()
    assert len(payload["x"]) == len(payload["id"]) == clustered
    assert client.get("/static/plotly.min.js").status_code == 200
    page = client.get("/").text
    assert "cdn" not in page.lower() and "https://" not in page


def test_export_writes_folders_zip_sheets_and_tables(built, tmp_path):
    _, run = built
    written = export_run(run, tmp_path / "out")
    clustered = run.assignments[run.assignments["cluster"].notna()]
    files = [p for p in (tmp_path / "out" / "clusters").rglob("*") if p.is_symlink() or p.is_file()]
    assert len(files) == len(clustered)
    assert all(p.resolve().exists() for p in files)
    with zipfile.ZipFile(written["zip"]) as archive:
        names = archive.namelist()
    assert "assignments.csv" in names and len(names) == len(clustered) + 2
    sheets = sorted(p.name for p in written["contact-sheets"].glob("*.html"))
    assert len(sheets) == run.clusters["cluster"].nunique()
    assert (tmp_path / "out" / "clusters.csv").read_text().startswith("cluster,size,keywords,name,summary")


def test_namer_over_the_openai_protocol_caches_its_answers(built):
    study, run = built
    answer = json.dumps({"name": "Wind power", "summary": "Turbines. Energy."})
    with FakeLLMServer() as server:
        server.queue(Reply(status=429, body={"error": "slow down"}, headers={"Retry-After": "0"}),
                     *[Reply(body=openai_body(answer)) for _ in range(4)])
        edits = name_clusters(study.store, run, "openai:fake-model",
                              NamerOptions(base_url=server.openai_base_url, base_delay=0.001))
        assert len(server.requests) == 5  # one retry after the 429
        prompt = server.requests[-1].json["messages"][0]["content"][0]["text"]
        assert "Keywords:" in prompt and "An image about" in prompt
        assert "image_url" not in json.dumps(server.requests[-1].json)
        again = name_clusters(study.store, run, "openai:fake-model", NamerOptions(base_url=server.openai_base_url))
        assert len(server.requests) == 5  # all from the cache
    assert edits == again
    assert {e["name"] for e in edits} == {"Wind power"} and edits[0]["by"] == "openai:fake-model"
    assert [e["cluster"] for e in edits] == sorted(int(c) for c in run.clusters["cluster"] if c >= 0)


def test_namer_over_ollama_and_answers_without_json(built):
    study, run = built
    with FakeLLMServer() as server:
        server.queue(*[Reply(body=ollama_body(f"Name: Topic {i}\nSummary: First. Second.")) for i in range(4)])
        edits = name_clusters(study.store, run, "ollama:llama3", NamerOptions(base_url=server.base_url))
        assert server.requests[0].path == "/api/chat"
    assert [e["name"] for e in edits] == ["Topic 0", "Topic 1", "Topic 2", "Topic 3"]
    assert parse_name('Sure! {"name": "**Floods**", "summary": "Water."}') == ("Floods", "Water.")


def test_a_namer_that_cannot_answer_text_is_refused_before_any_request(built):
    study, run = built
    with pytest.raises(SemclustError, match="--namer must be openai:MODEL or ollama:MODEL, got hf:tiny"):
        name_clusters(study.store, run, "hf:tiny")


def test_the_report_is_served_with_its_gallery_links_leading_to_the_app(client):
    page = client.get("/report")
    assert page.status_code == 200 and "galleries/cluster-0.html" in page.text
    assert "'unsafe-inline'" in page.headers["content-security-policy"]  # its inline map script
    assert "'unsafe-inline'" not in client.get("/").headers["content-security-policy"].split("script-src")[1]
    assert client.get("/galleries/cluster-2.html", follow_redirects=False).headers["location"] == "/cluster/2"
    assert client.get("/galleries/outliers.html", follow_redirects=False).headers["location"] == "/cluster/-1"
    assert client.get("/galleries/..%2Fconfig.json").status_code == 404


def test_search_does_not_match_file_hashes_or_paths(client, built):
    _, run = built
    sha = run.assignments["sha256"].dropna().iloc[0]
    assert 'class="hit"' not in client.get("/search", params={"q": sha[:12]}).text
    assert 'class="hit"' not in client.get("/search", params={"q": "img0003"}).text


def test_refine_and_export_from_the_command_line(built, tmp_path):
    from typer.testing import CliRunner

    from semclust.cli import app
    from semclust.study.runs import Run

    study, run = built
    cli = CliRunner()
    done = cli.invoke(app, ["refine", "--study", str(study.folder), "--run", run.id, "--merge", "0,1",
                            "--name", "0=Wind and floods", "--drop", "3", "--outliers", "nearest:0.01", "--no-report"])
    assert done.exit_code == 0, done.output
    new = Run.load(study.folder, "latest")
    assert new.config["parent_run"] == run.id
    assert set(new.assignments.loc[new.assignments["cluster"] == 0, "cluster_name"]) == {"Wind and floods"}
    outliers = (new.assignments["cluster"] == -1).sum()
    assert outliers <= 0.01 * new.assignments["cluster"].notna().sum()
    bad = cli.invoke(app, ["refine", "--study", str(study.folder), "--run", run.id, "--split", "9:kmeans:2"])
    assert bad.exit_code == 1 and "no cluster 9" in bad.output and "Traceback" not in bad.output
    out = cli.invoke(app, ["export", "--study", str(study.folder), "--run", new.id, "--out", str(tmp_path / "x"),
                           "--format", "tables"])
    assert out.exit_code == 0, out.output
    assert "Wind and floods" in (tmp_path / "x" / "clusters.csv").read_text()
