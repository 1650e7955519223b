"""A whole rating study in Chromium: plan -> signed crowd links -> six coders rate -> evaluate.

Two groups (party=D, R) of three coders each arrive through their group's Prolific-style
link, rate their eight images on the ten emotions of Casas et al. with the keyboard, and
get their completion code. Coders of group R rate every anxiety scale 2 points higher;
the analysis must find that difference within its bootstrap interval. Skipped where
Chromium, chromedriver or selenium is missing.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
import uvicorn
from PIL import Image
from typer.testing import CliRunner

from browser_support import By, Keys, WebDriverWait, chromium, serving
from semclust.cli import app as cli
from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run, label_run
from semclust.study.workspace import Study

THEMES = [
    "solar panels roof energy",
    "ocean plastic bottles beach",
    "protest march banner street",
    "forest fire smoke flames",
    "flood water rain river",
    "cattle farm cows pasture",
    "glacier ice melting arctic",
    "bicycle lane city commute",
]
EMOTIONS = {
    "hopeful": "enthusiasm", "enthusiastic": "enthusiasm", "proud": "enthusiasm",
    "angry": "aversion", "resentful": "aversion", "bitter": "aversion", "hateful": "aversion",
    "worried": "anxiety", "scared": "anxiety", "afraid": "anxiety",
}  # fmt: skip
EFFECT = 2


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.fixture
def rating_study(tmp_path):
    """32 posts in 8 themes clustered into 8 clusters; the ratings plan drawn by the CLI."""
    rng = np.random.default_rng(0)
    rows = []
    for t, words in enumerate(THEMES):
        for i in range(4):
            path = tmp_path / "img" / f"t{t}i{i}.png"
            path.parent.mkdir(exist_ok=True)
            pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            Image.fromarray(pixels).resize((40, 30), Image.NEAREST).save(path)
            rows.append({"id": f"t{t}i{i}", "image": str(path), "text": words})
    pd.DataFrame(rows).to_csv(tmp_path / "posts.csv", index=False)
    folder = tmp_path / "study"
    config = RunConfig(
        describer="column:text", embedder="tfidf:4", reducer="none", map="none",
        clusterer="kmeans:8", seed=0,
    )  # fmt: skip
    with Study(folder) as s:
        s.ingest(tmp_path / "posts.csv", progress=False)
        s.describe("column:text")
        run = label_run(cluster_run(s, config, progress=False))
    assert sorted(run.assignments["cluster"].value_counts()) == [4] * 8
    invoke(
        "sample", "ratings", "--study", folder, "--run", run.id, "--per-cluster", "3",
        "--groups", "party=D,R", "--out", tmp_path / "plan",
    )  # fmt: skip
    return folder, run, tmp_path / "plan.csv"


def _rating(cluster: int, scale: str, party: str, noise_seed: str) -> int:
    """What a simulated coder answers: a level per cluster and scale, +2 anxiety for R,
    and -1, 0 or +1 of noise drawn from the participant, image and scale."""
    level = 2 + (cluster * 3 + len(scale)) % 6
    noise = sum(map(ord, noise_seed + scale)) % 3 - 1
    return level + noise + (EFFECT if party == "R" and EMOTIONS[scale] == "anxiety" else 0)


@pytest.mark.slow
def test_rating_study_end_to_end(rating_study, tmp_path, monkeypatch):
    folder, run, plan = rating_study
    table = pd.read_csv(plan)
    assert len(table) == 24 and table["slot"].nunique() == 3
    assert not table.duplicated(["slot", "cluster"]).any()
    cluster_of = dict(zip(run.assignments["id"], run.assignments["cluster"], strict=True))

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app))
    output = invoke(
        "annotate", "serve", "--study", folder, "--task", plan, "--scales", "emotions-casas",
        "--completion-url", "http://127.0.0.1:9/complete?cc=C0DE42", "--completion-code", "C0DE42",
    )  # fmt: skip
    admin = re.search(r"(/admin/\S+)", output).group(1)
    driver = chromium(tmp_path / "profile")
    try:
        with serving(served["app"]) as base:
            links = invoke("annotate", "link", "--study", folder, "--task", "plan", "--base-url", base)
            urls = dict(re.findall(r"party=(\w) (\S+)", links))
            assert set(urls) == {"D", "R"} and all("{{%PROLIFIC_PID%}}" in u for u in urls.values())

            driver.get(base + "/")  # links only: no start page to pick a name or group
            assert "reached through the link" in driver.find_element(By.TAG_NAME, "main").text
            forged = urls["D"].replace("/join/", "/join/x").replace("{{%PROLIFIC_PID%}}", "p1")
            driver.get(forged)  # a tampered token
            assert "not valid" in driver.find_element(By.TAG_NAME, "main").text

            for party in ("D", "R"):
                for k in range(3):
                    pid = f"5f{party}{k:022d}"
                    driver.delete_all_cookies()  # each participant in a browser of their own
                    driver.get(urls[party].replace("{{%PROLIFIC_PID%}}", pid))
                    _rate_all(driver, pid, party, cluster_of)
                    code = driver.find_element(By.ID, "completion-code").text
                    link = driver.find_element(By.ID, "completion-link").get_attribute("href")
                    assert code == "C0DE42" and link.endswith("?cc=C0DE42")

            # someone else typing a participant's id reaches nothing of theirs
            driver.delete_all_cookies()
            driver.get(urls["D"].replace("{{%PROLIFIC_PID%}}", "5fD" + "0" * 22))
            assert "another browser" in driver.find_element(By.TAG_NAME, "main").text
            driver.get(base + "/code/5fD" + "0" * 22 + "/1")
            assert "another browser" in driver.find_element(By.TAG_NAME, "main").text

            driver.get(base + admin)
            coverage = driver.find_element(By.ID, "coverage").text
            assert "D 3 of 3" in coverage and "R 3 of 3" in coverage
            assert driver.find_element(By.ID, "coders").text.count("8 of 8") == 6
            driver.get(base + "/admin/forged")
            assert "no such page" in driver.find_element(By.TAG_NAME, "main").text
    finally:
        driver.quit()

    out = tmp_path / "ratings.csv"
    invoke("annotate", "export", "--study", folder, "--task", "plan", "--out", out)
    ratings = pd.read_csv(out)
    assert len(ratings) == 48 and ratings.groupby("id")["party"].nunique().eq(2).all()
    assert json.loads(out.with_suffix(".json").read_text())["group"] == "party"

    words = invoke(
        "evaluate", "--study", folder, "--run", run.id, "--ratings", out, "--weighting", "both"
    )
    assert "Rating study" in words and "anxiety" in words
    summary = (folder / "runs" / run.id / "evaluation.txt").read_text()
    assert "Mean anxiety rating, R - D (clusters weighted equally): " in summary
    assert "Reliability of 'worried' (Krippendorff's alpha, interval)" in summary
    figures = folder / "runs" / run.id / "evaluation"
    for name in ("ratings_by_cluster.png", "ratings_by_group_equal.png", "ratings_by_group_size.png"):
        assert (figures / name).stat().st_size > 5_000
    by_group = pd.read_csv(figures / "ratings_by_group.csv")
    difference = by_group[(by_group["group"] == "R - D") & (by_group["weighting"] == "equal")]
    anxiety = difference.set_index("measure").loc["anxiety"]
    assert anxiety["ci_low"] <= EFFECT <= anxiety["ci_high"] and anxiety["ci_low"] > 1
    assert anxiety["ci_high"] - anxiety["ci_low"] > 0  # noisy ratings: a real interval
    aversion = difference.set_index("measure").loc["aversion"]
    assert aversion["ci_low"] <= 0 <= aversion["ci_high"] and abs(aversion["mean"]) < 0.5
    heat = pd.read_csv(figures / "ratings_by_cluster.csv")
    assert heat["size"].tolist() == [4] * 8 and len(heat) == 8
    reliability = pd.read_csv(figures / "ratings_reliability.csv")
    assert (reliability["images_rated_twice"] == 24).all()


def _rate_all(driver, pid: str, party: str, cluster_of: dict) -> None:
    """Rate every image of the participant's slot with digit keys; Enter saves."""
    for number in range(1, 9):
        page = f"/code/{pid}/{number}"
        WebDriverWait(driver, 10).until(lambda d, page=page: d.current_url.endswith(page))
        item = unquote(driver.find_element(By.CSS_SELECTOR, ".images img").get_attribute("src"))
        cluster = cluster_of[item.rsplit("/", 1)[1]]
        wanted = [_rating(cluster, s, party, pid + item) for s in EMOTIONS]
        digits = "".join(str(value % 10) for value in wanted)
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(digits)  # each digit rates one scale and moves to the next
        checked = driver.execute_script(
            "return Array.from(document.querySelectorAll('input:checked')).map(i => i.value)"
        )
        assert checked == [str(value) for value in wanted]
        driver.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith(f"/code/{pid}/units"))
