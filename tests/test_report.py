"""The HTML report and the clusters.csv keyword text form."""

from __future__ import annotations

import math
from html.parser import HTMLParser
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import semclust.stages.report as report
from semclust.core.errors import SemclustError
from semclust.stages.interactive_map import plotly_js_path
from semclust.stages.keywords_format import KeywordFormatError, parse_keywords, render_keywords
from semclust.stages.report import ReportError, write_report

KEYWORDS = {
    0: [("bear", 0.38), ("polar", 0.24), ("ice", 0.21)],
    1: "ipcc:0.41, climate:0.29",  # the clusters.csv text form is accepted too
    2: [("coal", 0.34)],
}


class Page(HTMLParser):
    """What a reader sees: cluster sections with their keywords and thumbnails."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.sections: list[dict] = []
        self.start_tags: list[tuple[str, dict]] = []
        self._open: str | None = None  # the element whose text is being collected
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.start_tags.append((tag, attrs))
        classes = (attrs.get("class") or "").split()
        if tag == "section" and "cluster" in classes:
            self.sections.append(
                {
                    "cluster": int(attrs["data-cluster"]),
                    "size": int(attrs["data-size"]),
                    "text": "",
                    "keywords": [],
                    "figures": [],
                }
            )
        elif not self.sections:
            return
        elif tag == "figure":
            self.figures.append(
                {"title": attrs["title"], "exemplar": "exemplar" in classes, "src": None}
                | {"placeholder": "", "caption": ""}
            )
        elif tag == "img":
            self.figures[-1]["src"] = attrs["src"]
        elif tag == "div" and "placeholder" in classes:
            self._open = "placeholder"
        elif tag == "figcaption":
            self._open = "caption"
        elif tag == "li":
            self.sections[-1]["keywords"].append("")
            self._open = "keyword"

    def handle_endtag(self, tag):
        if tag in ("div", "figcaption", "li"):
            self._open = None

    def handle_data(self, data):
        if not self.sections:
            return
        self.sections[-1]["text"] += data
        if self._open == "keyword":
            self.sections[-1]["keywords"][-1] += data
        elif self._open in ("placeholder", "caption"):
            self.figures[-1][self._open] += data

    @property
    def figures(self) -> list[dict]:
        return self.sections[-1]["figures"]

    def section(self, cluster: int) -> dict:
        return next(s for s in self.sections if s["cluster"] == cluster)

    def urls(self) -> list[str]:
        return [a[k] for _, a in self.start_tags for k in ("src", "href") if k in a]


def make_run(tmp_path, sizes: dict[int, int], description="a photo", text=None):
    """Tiny PNGs, one per item, and the matching assignments and clusters tables."""
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.full(n, c) for c, n in sizes.items()])
    paths = []
    for i in range(len(labels)):
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", (8, 6), tuple(int(v) for v in rng.integers(0, 255, 3))).save(path)
        paths.append(str(path))
    assignments = pd.DataFrame(
        {
            "id": [f"item{i}" for i in range(len(labels))],
            "image": paths,
            "cluster": labels,
            "probability": 1.0,
            "description": description,
        }
    )
    if text is not None:
        assignments["text"] = text
    kept = [c for c in sizes if c != -1]
    clusters = pd.DataFrame(
        {
            "cluster": kept,
            "size": [sizes[c] for c in kept],
            "keywords": [KEYWORDS.get(c, []) for c in kept],
        }
    )
    return assignments, clusters


def render(tmp_path, assignments, clusters, **kwargs) -> str:
    kwargs = {"title": "Run", "config": {"seed": 0}} | kwargs
    out = write_report(tmp_path / "out" / "report.html", assignments, clusters, **kwargs)
    return out.read_text(encoding="utf-8")


def test_sections_show_keywords_sizes_and_order_with_outliers_last(tmp_path):
    # outliers are the largest group, and still come last
    assignments, clusters = make_run(tmp_path, {1: 5, 0: 20, -1: 30, 2: 12})
    html = render(tmp_path, assignments, clusters)
    assert "67 input items: 37 in 3 clusters &middot; 30 outliers &middot; 0 not clustered" in html
    page = Page(html)
    assert [s["cluster"] for s in page.sections] == [0, 2, 1, -1]
    assert [s["size"] for s in page.sections] == [20, 12, 5, 30]
    assert page.section(0)["keywords"] == ["bear (0.38)", "polar (0.24)", "ice (0.21)"]
    assert page.section(1)["keywords"] == ["ipcc (0.41)", "climate (0.29)"]
    assert "Outliers" in page.section(-1)["text"]
    assert page.section(-1)["keywords"] == []
    assert "20 items" in page.section(0)["text"]
    assert "29.9% of all" in page.section(0)["text"]  # 20 of 67


@pytest.mark.parametrize("k", [3, 12])
def test_thumbnails_per_cluster_is_min_of_size_and_samples(tmp_path, k):
    assignments, clusters = make_run(tmp_path, {0: 20, 1: 5, 2: 12, -1: 7})
    page = Page(render(tmp_path, assignments, clusters, samples_per_cluster=k))
    for s in page.sections:
        assert len(s["figures"]) == min(s["size"], k)
        assert all(f["src"].startswith("data:image/jpeg;base64,") for f in s["figures"])
        shown = {f["caption"] for f in s["figures"]}
        members = set(assignments.loc[assignments["cluster"] == s["cluster"], "id"])
        assert len(shown) == len(s["figures"]) and shown <= members


def test_untrusted_text_is_shown_only_escaped(tmp_path):
    description = 'x" onmouseover="alert(1)'
    post = "<script>alert(1)</script> see https://evil.example/a.png"
    assignments, clusters = make_run(tmp_path, {0: 3}, description=description, text=post)
    assignments.loc[0, "id"] = "<img src=x onerror=alert(2)>"
    clusters["keywords"] = [[("<b>bold</b>", 0.5)]]
    html = render(tmp_path, assignments, clusters, title="<script>alert(3)</script>")
    assert "<script" not in html
    assert '"onmouseover=' not in html and 'onmouseover="' not in html
    assert "<img src=x" not in html and "<b>bold" not in html
    page = Page(html)
    assert not any(k.startswith("on") for _, attrs in page.start_tags for k in attrs)
    figures = page.section(0)["figures"]
    assert {f["title"] for f in figures} == {f"{description}\n\nPost text: {post}"}
    assert "<img src=x onerror=alert(2)>" in {f["caption"] for f in figures}
    assert page.section(0)["keywords"] == ["<b>bold</b> (0.50)"]


def test_hover_text_is_bounded_and_says_when_missing(tmp_path):
    assignments, clusters = make_run(tmp_path, {0: 2}, description="word " * 1000)
    assignments["description"] = assignments["description"].astype(object)
    assignments.loc[1, "description"] = None
    page = Page(render(tmp_path, assignments, clusters))
    titles = {f["caption"]: f["title"] for f in page.section(0)["figures"]}
    assert len(titles["item0"]) == report.MAX_HOVER_CHARS and titles["item0"].endswith("…")
    assert titles["item1"] == "(no description)"


def test_page_references_no_remote_resources(tmp_path):
    assignments, clusters = make_run(tmp_path, {0: 4, -1: 2}, description="see https://x.org")
    html = render(tmp_path, assignments, clusters, coords=np.zeros((6, 2)), metrics={"n": 1})
    urls = Page(html).urls()
    # in-page anchors, inline images, and files of the run folder linked relatively
    assert urls and all(urlsplit(u).scheme in ("", "data") and not urlsplit(u).netloc for u in urls)
    assert not any("http://" in u or "https://" in u for u in urls)
    assert "<script src" not in html  # the map's plotly.js is inlined, never fetched


def test_same_seed_same_page_other_seed_other_sample(tmp_path):
    assignments, clusters = make_run(tmp_path, {0: 30, 1: 8, -1: 5})
    options = {"coords": np.random.default_rng(1).normal(size=(43, 2)), "metrics": {"a": 0.5}}
    first = render(tmp_path, assignments, clusters, seed=3, samples_per_cluster=6, **options)
    again = render(tmp_path, assignments, clusters, seed=3, samples_per_cluster=6, **options)
    other = render(tmp_path, assignments, clusters, seed=4, samples_per_cluster=6, **options)
    assert first == again

    def shown(html):
        return [f["caption"] for f in Page(html).section(0)["figures"]]

    assert shown(first) != shown(other)  # 30 choose 6 samples: equal only by a fixed accident


def test_unreadable_images_become_placeholders_with_the_reason(tmp_path):
    assignments, clusters = make_run(tmp_path, {0: 4})
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"this is not an image")
    assignments["image"] = assignments["image"].astype(object)
    assignments.loc[1, "image"] = str(garbage)
    assignments.loc[2, "image"] = str(tmp_path / "missing.png")
    assignments.loc[3, "image"] = None
    page = Page(render(tmp_path, assignments, clusters))
    by_id = {f["caption"]: f for f in page.section(0)["figures"]}
    assert by_id["item0"]["src"].startswith("data:image/jpeg") and not by_id["item0"]["placeholder"]
    assert by_id["item1"]["src"] is None and "not an image file" in by_id["item1"]["placeholder"]
    assert "cannot read file" in by_id["item2"]["placeholder"]
    assert "no image path" in by_id["item3"]["placeholder"]


def test_map_and_metrics_only_when_given(tmp_path):
    assignments, clusters = make_run(tmp_path, {0: 5, 1: 3, -1: 2})
    bare = Page(render(tmp_path, assignments, clusters, config={"reduce": {"name": "umap"}}))
    ids = {a.get("id") for _, a in bare.start_tags}
    assert "map" not in ids and "metrics" not in ids and "config" in ids
    assert not any(u.startswith("data:image/png") for u in bare.urls())

    html = render(
        tmp_path,
        assignments,
        clusters,
        config={"reduce": {"name": "umap", "n_components": 10}},
        metrics={"silhouette": np.float32(0.123456), "n_clusters": 2, "missing": None},
        coords=np.random.default_rng(0).normal(size=(10, 2)),
    )
    full = Page(html)
    assert {"map", "metrics"} <= {a.get("id") for _, a in full.start_tags}
    if plotly_js_path() is None:
        assert sum(u.startswith("data:image/png;base64,") for u in full.urls()) == 1
    else:  # the interactive map, its data inline
        assert 'id="map-data"' in html and "Plotly" in html
    for cell in ("reduce.n_components</td><td>10<", "Silhouette</td><td>0.123<", "Clusters</td><td>2<"):
        assert cell in html


def test_exemplars_are_shown_first_and_capped(tmp_path):
    assignments, clusters = make_run(tmp_path, {0: 20, 1: 8})
    assignments["exemplar"] = False
    assignments.loc[[17, 5, 20, 21, 22, 23, 24, 25], "exemplar"] = True
    page = Page(render(tmp_path, assignments, clusters, samples_per_cluster=4))
    figures = page.section(0)["figures"]
    assert {f["caption"] for f in figures[:2]} == {"item5", "item17"}
    assert [f["exemplar"] for f in figures] == [True, True, False, False]
    shown = [f["caption"] for f in page.section(1)["figures"]]
    assert len(shown) == 4 and set(shown[:2]) <= {f"item{i}" for i in range(20, 26)}
    assert set(shown[2:]) == {"item26", "item27"}  # half the places go to the rest of the cluster
    again = Page(render(tmp_path, assignments, clusters, samples_per_cluster=4))
    assert [f["caption"] for f in again.section(1)["figures"]] == shown  # seeded


def test_exemplars_are_drawn_at_random_from_the_nearest_tenth_not_in_input_order():
    positions = np.arange(200)
    exemplar = np.zeros(200, dtype=bool)
    exemplar[100:120] = True  # the 10% nearest the centroid
    draws = [tuple(report._pick_rows(positions, exemplar, 0, 6, seed)) for seed in range(20)]
    assert all(set(d[:3]) <= set(range(100, 120)) for d in draws)  # half the places: exemplars
    assert all(not set(d[3:]) & set(range(100, 120)) for d in draws)  # the rest: ordinary members
    assert draws[3] == tuple(report._pick_rows(positions, exemplar, 0, 6, 3))  # seeded
    assert len(set(draws)) > 10 and (100, 101, 102) not in [d[:3] for d in draws]
    counts = np.bincount(np.concatenate([d[:3] for d in draws]), minlength=200)[100:120]
    assert counts.min() > 0  # every one of the nearest tenth is drawn now and then


def test_a_cluster_with_few_ordinary_members_fills_its_places_with_exemplars():
    positions = np.arange(6)
    exemplar = np.array([True, True, True, True, False, False])
    picked = report._pick_rows(positions, exemplar, 0, 5, 0)
    assert len(picked) == 5 and set(picked[3:]) == {4, 5} and set(picked[:3]) <= {0, 1, 2, 3}


def test_large_run_decodes_only_the_samples(tmp_path, monkeypatch):
    n, k, per_cluster = 100_000, 50, 12
    decoded = []

    def fake_thumbnail(path, max_side):
        decoded.append(path)
        return "data:image/jpeg;base64,AAAA"

    monkeypatch.setattr(report, "thumbnail_data_url", fake_thumbnail)
    labels = np.arange(n) % (k + 1) - 1
    assignments = pd.DataFrame(
        {"id": np.arange(n).astype(str), "image": "/nowhere.jpg", "cluster": labels}
    )
    sizes = np.bincount(labels + 1)
    clusters = pd.DataFrame(
        {"cluster": range(k), "size": sizes[1:], "keywords": [[("w", 0.1)]] * k}
    )
    html = render(tmp_path, assignments, clusters, samples_per_cluster=per_cluster)
    assert len(decoded) == (k + 1) * per_cluster
    assert len(html) < 1_000_000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, c: (a.drop(columns="image"), c), "image"),
        (lambda a, c: (a.assign(cluster=[0, 0, 1.5, 1]), c), "row 2"),
        (lambda a, c: (a.assign(cluster=[0, 0, -2, 1]), c), "row 2"),
        (lambda a, c: (a, c.assign(size=[2, 5])), "cluster 1: the clusters table says size 5"),
        (lambda a, c: (a, pd.concat([c, c])), "twice"),
        (lambda a, c: (a, c.assign(keywords=["bear:0.3", "polar"])), "cluster 1"),
    ],
)
def test_bad_tables_are_refused_with_a_clear_message(tmp_path, change, message):
    assignments, clusters = change(*make_run(tmp_path, {0: 2, 1: 2}))
    with pytest.raises(ReportError, match=message) as info:
        render(tmp_path, assignments, clusters)
    assert isinstance(info.value, SemclustError)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"coords": np.zeros((3, 2))}, r"shape \(4, 2\)"),
        ({"coords": np.array([[0, 0], [0, 0], [np.nan, 1], [0, 0]])}, "coords row 2"),
        ({"samples_per_cluster": -1}, "samples_per_cluster"),
        ({"seed": -5}, "seed"),
        ({"config": ["not", "a", "dict"]}, "config must be a mapping"),
    ],
)
def test_bad_options_are_refused(tmp_path, options, message):
    assignments, clusters = make_run(tmp_path, {0: 2, 1: 2})
    with pytest.raises(ReportError, match=message):
        render(tmp_path, assignments, clusters, **options)


# --- the "term:score, ..." text form of clusters.csv ---------------------------------------


def test_render_keywords_rounds_to_three_decimals():
    keywords = [("bear", 0.38412), ("polar", np.float32(0.2)), ("ice", 1 / 3), ("time:lapse", 2)]
    assert render_keywords(keywords) == "bear:0.384, polar:0.2, ice:0.333, time:lapse:2.0"
    assert render_keywords([]) == ""


def test_parse_keywords_reads_the_papers_table_and_round_trips():
    assert parse_keywords("bear:0.38, polar:0.24,ice:0.21") == [
        ("bear", 0.38),
        ("polar", 0.24),
        ("ice", 0.21),
    ]
    keywords = [("climate change", 0.5), ("time:lapse", 0.125), ("24", 0.11)]
    assert parse_keywords(render_keywords(keywords)) == keywords


@pytest.mark.parametrize("empty", ["", "  ", None, math.nan])
def test_parse_keywords_of_an_empty_cell_is_empty(empty):
    assert parse_keywords(empty) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [("bear:0.3, polar", "'polar'"), ("bear:high", "'bear:high'"), (":0.2", "':0.2'")],
)
def test_parse_keywords_names_the_bad_item(text, message):
    with pytest.raises(KeywordFormatError, match=message):
        parse_keywords(text)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [([("a,b", 0.1)], "'a,b'"), ([("", 0.1)], "non-empty"), ([("x", math.nan)], "'x'")],
)
def test_render_keywords_refuses_what_it_could_not_read_back(keywords, message):
    with pytest.raises(KeywordFormatError, match=message):
        render_keywords(keywords)


def test_items_not_clustered_are_counted_and_listed_with_reasons(tmp_path):
    assignments, clusters = make_run(tmp_path, {0: 4, -1: 2})
    missing = pd.DataFrame({"id": ["r1", "f1", "u1"], "note": [
        "refused: model refused: I can't help <b>", "failed: gave up after 6 attempts: HTTP 500",
        "unreadable image: corrupt or truncated image: x"]})
    html = render(tmp_path, assignments, clusters, not_clustered=missing)
    assert "9 input items: 4 in 1 clusters &middot; 2 outliers &middot; 3 not clustered" in html
    assert "1 refused, 1 failed, 1 unreadable" in html
    assert "I can&#39;t help &lt;b&gt;" in html and "<b>" not in html.split('id="not-clustered"')[1]
    gallery = (tmp_path / "out" / "galleries" / "cluster-0.html").read_text()
    assert gallery.count("<figure") == 4 and 'href="../report.html"' in gallery


def test_the_interactive_map_gives_way_to_the_static_one_past_the_limit(tmp_path, monkeypatch):
    assignments, clusters = make_run(tmp_path, {0: 4, -1: 2})
    monkeypatch.setattr(report, "INTERACTIVE_MAP_LIMIT", 5)
    html = render(tmp_path, assignments, clusters, coords=np.zeros((6, 2)))
    assert "data:image/png;base64," in html and "more than the interactive map" in html
    assert 'id="map-data"' not in html


def test_metrics_are_in_words_and_their_counts_match_the_header(tmp_path):
    from semclust.study.pipeline import summary_metrics

    sizes = {0: 9, 1: 5, -1: 6}  # 20 items given to the clusterer, 14 in clusters, 6 outliers (30%)
    assignments, clusters = make_run(tmp_path, sizes)
    metrics = summary_metrics(assignments["cluster"].to_numpy(), n_items=20) | {"n_fitted": 12_345}
    html = render(tmp_path, assignments, clusters, metrics=metrics)
    assert "20 input items: 14 in 2 clusters &middot; 6 outliers" in html  # the header
    section = html[html.index('id="metrics"'):]
    section = section[:section.index("</section>")]
    for cell in ("Input items</td><td>20<", "Items given to the clusterer</td><td>20 (14 in clusters, 6 outliers)<",
                 "Clusters</td><td>2<", "Outliers</td><td>30.0% of 20 (6)<",
                 "Items the clusterer was fitted on</td><td>12,345<"):
        assert cell in section
    assert "n_fitted" not in section and "outlier_share" not in section


@pytest.mark.parametrize(("value", "share", "shown"), [
    (9253, False, "9,253"), (0.04993, True, "5.0%"), (0.123456, False, "0.123"), (12345.6, False, "12,346"),
    (None, False, "–"), (float("nan"), False, "–"), (True, False, "yes"),
])
def test_metric_numbers_are_formatted_for_reading(value, share, shown):
    from semclust.stages.report_metrics import format_number

    assert format_number(value, share=share) == shown


def test_a_fragmented_cluster_is_labelled_on_its_main_body_not_between_its_fragments():
    from semclust.stages.interactive_map import label_anchor, map_payload

    rng = np.random.default_rng(0)
    main, left, top = (rng.normal(c, 0.3, size=(n, 2)) for c, n in (((0, 0), 400), ((10, 0), 300), ((5, 8), 300)))
    points = np.vstack([main, left, top])
    x, y = label_anchor(points)
    assert np.hypot(x, y) < 1.0  # on the largest fragment
    assert np.hypot(*(np.median(points, axis=0) - (x, y))) > 3  # where the median would not be
    assert min(np.hypot(*(points - (x, y)).T)) == 0  # on a member point
    payload = map_payload(points, np.zeros(len(points), int), [str(i) for i in range(len(points))],
                          [(0, "c0", "#000")])
    assert (payload["clusters"][0]["x"], payload["clusters"][0]["y"]) == (round(x, 4), round(y, 4))
