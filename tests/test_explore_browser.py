"""End to end in headless Chromium with the network blocked, on a generated study of 20,000 items.

Opens the map, hovers a point and sees its thumbnail, opens a cluster gallery and scrolls
to its end, searches a word, merges two clusters, splits one, drops one and sets an
outlier target, exports; then replays the last run with ``semclust refine --replay``.
"""

from __future__ import annotations

import json
import time

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

from browser_support import By, Keys, WebDriverWait, serving, webdriver  # skips without Chromium
from explore_corpus import make_study

N_ITEMS = 20_000

#: The page position of a point of the first non-outlier trace, from plotly's own axes.
POINT_JS = """
const gd = document.getElementById('map');
const t = gd._fullData.findIndex(d => d.meta !== -1);
const trace = gd._fullData[t], L = gd._fullLayout, box = gd.getBoundingClientRect();
for (let i = 0; i < trace.x.length; i++) {
  const x = L.xaxis.l2p(trace.x[i]) + L._size.l, y = L.yaxis.l2p(trace.y[i]) + L._size.t;
  const under = document.elementFromPoint(box.left + x, box.top + y);
  if (under && under.classList.contains('nsewdrag')) {
    return {x: x, y: y, w: box.width, h: box.height, id: trace.customdata[i]};
  }
}
return null;
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    study, run = make_study(tmp_path_factory.mktemp("explore"), N_ITEMS, k=8)
    yield study, run
    study.close()


def offline_chromium(profile):
    """Chromium that can reach 127.0.0.1 and nothing else: every host name fails to resolve."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader", "--disable-background-networking", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 f"--user-data-dir={profile}", "--window-size=1400,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


def wait(driver, condition, seconds=180):
    """Poll ``condition``; an element that went stale or is not there yet (the page is being
    replaced after an edit) counts as 'not yet', not as a failure."""
    return WebDriverWait(driver, seconds, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException, NoSuchElementException),
                         ).until(condition)


def text_now(driver, css: str) -> str | None:
    """The text of ``css`` read in one script call, so a page swap cannot stale it half-way."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)


def edit_and_wait(driver, button_id: str, before: str) -> str:
    driver.find_element(By.ID, button_id).click()
    return wait(driver, lambda d: (now := text_now(d, "#run-header b")) not in (None, before) and now, 120)


@pytest.mark.slow
def test_explore_20k_items_offline(study, tmp_path):
    from semclust.exploration.app import create_app

    s, first = study
    with serving(create_app(s.folder, first.id)) as base:
        driver = offline_chromium(tmp_path / "profile")
        try:
            _map_hover_and_offline(driver, base)
            _gallery_to_the_end(driver, base)
            _search(driver, base)
            last = _edits(driver, base, first.id)
            _export(driver, base, s.folder, last)
        finally:
            driver.quit()
    _replay(s.folder, last)


def _map_hover_and_offline(driver, base):
    driver.get(base + "/")
    wait(driver, lambda d: d.find_element(By.ID, "map").get_attribute("data-ready") == "1", 120)
    header = driver.find_element(By.ID, "run-header").text
    assert f"{N_ITEMS:,} input items" in header and "not clustered" in header
    # every resource the page loaded came from the app itself; a CDN could not even resolve
    origins = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    assert set(origins) <= {base}, origins
    assert driver.execute_script("return typeof Plotly") == "object"
    point = driver.execute_script(POINT_JS)
    map_el = driver.find_element(By.ID, "map")
    webdriver.ActionChains(driver).move_to_element_with_offset(
        map_el, int(point["x"] - point["w"] / 2), int(point["y"] - point["h"] / 2)).perform()
    thumb = driver.find_element(By.ID, "hover-thumb")
    wait(driver, lambda d: thumb.is_displayed() and d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", thumb) > 0)
    title = driver.find_element(By.ID, "hover-title").text
    assert title.startswith("p") and "·" in title  # an item id and its cluster
    assert driver.find_element(By.ID, "hover-description").text.startswith("An image about")


def _gallery_to_the_end(driver, base):
    link = driver.find_elements(By.CSS_SELECTOR, "a.cluster-link")[-1]  # the smallest cluster
    link.click()
    wait(driver, lambda d: "/cluster/" in d.current_url and d.find_elements(By.CSS_SELECTOR, ".tile"))
    count = driver.find_element(By.ID, "count").text
    total = int(count.split(" of ")[1].split()[0].replace(",", ""))
    assert total > 3 * 120  # several pages of the lazy gallery
    first = driver.find_elements(By.CSS_SELECTOR, ".tile")[0]
    assert "exemplar" in first.get_attribute("class")  # nearest the centroid first
    shown, deadline = "", 0.0
    while not driver.find_element(By.ID, "end").is_displayed():
        driver.execute_script("document.getElementById('sentinel').scrollIntoView()")
        time.sleep(0.2)
        now = driver.find_element(By.ID, "count").text
        if now != shown:  # progress: a new page arrived; a busy machine may take a while for each
            shown, deadline = now, time.monotonic() + 180
        assert time.monotonic() < deadline, "the gallery stopped at " + shown
    assert len(driver.find_elements(By.CSS_SELECTOR, ".tile")) == total
    ids = driver.execute_script("return Array.from(document.querySelectorAll('.tile')).map(t => t.dataset.id)")
    assert len(set(ids)) == total  # each member once
    last_img = driver.find_elements(By.CSS_SELECTOR, ".tile img")[-1]
    driver.execute_script("arguments[0].scrollIntoView()", last_img)
    wait(driver, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", last_img) > 0)
    driver.find_elements(By.CSS_SELECTOR, ".tile")[-1].click()
    wait(driver, lambda d: d.find_element(By.ID, "panel-description").text.startswith("An image about"))
    assert "likes" in driver.find_element(By.ID, "panel-columns").text


def _search(driver, base):
    box = driver.find_element(By.ID, "search-box")
    box.clear()
    box.send_keys("turbine", Keys.ENTER)
    wait(driver, lambda d: "/search" in d.current_url)
    hits = driver.find_elements(By.CSS_SELECTOR, "tr.hit")
    assert len(hits) == 500  # the page's cap: far more than 500 items mention turbines
    assert all("[turbine]" in h.text for h in hits[:20])  # the matched word is marked
    assert hits[0].find_elements(By.CSS_SELECTOR, "a[href^='/cluster/']")


def cluster_size(driver, base, number: int) -> int:
    driver.get(f"{base}/cluster/{number}")
    return int(driver.find_element(By.CSS_SELECTOR, "h2").text.split("(")[1].split()[0].replace(",", ""))


def _edits(driver, base, first: str) -> str:
    expected = cluster_size(driver, base, 1) + cluster_size(driver, base, 0)
    driver.find_element(By.ID, "merge-with").send_keys("1")
    merged = edit_and_wait(driver, "merge", first)
    assert cluster_size(driver, base, 0) == expected

    driver.get(base + "/cluster/2")
    split_with = driver.find_element(By.ID, "split-with")
    split_with.clear()
    split_with.send_keys("kmeans:2")
    split = edit_and_wait(driver, "split", merged)

    driver.get(base + "/cluster/3")
    dropped = edit_and_wait(driver, "drop", split)
    driver.get(base + "/cluster/-1")
    target = driver.find_element(By.ID, "target")
    target.clear()
    target.send_keys("0.05")
    reduced = edit_and_wait(driver, "reduce", dropped)
    header = wait(driver, lambda d: text_now(d, "#run-header"))
    outliers = int(header.split(" outliers")[0].split(",")[-1].replace(",", "").split()[-1])
    assert outliers <= 0.05 * N_ITEMS
    return reduced


def _export(driver, base, folder, run):
    driver.get(base + "/")
    wait(driver, lambda d: d.find_element(By.ID, "map").get_attribute("data-ready") == "1", 120)
    driver.find_element(By.ID, "export-button").click()
    wait(driver, lambda d: d.find_element(By.ID, "export-result").get_attribute("data-done") == "1", 300)
    out = folder / "exports" / run
    assert (out / "assignments.csv").exists() and (out / f"{run}.zip").exists()
    sheets = list((out / "contact-sheets").glob("*.html"))
    assert len(sheets) >= 8


def _replay(folder, run):
    from typer.testing import CliRunner

    from semclust.cli import app
    from semclust.study.runs import Run

    config = json.loads((folder / "runs" / run / "config.json").read_text())
    assert [e["op"] for e in config["edits_from_root"]] == ["merge", "split", "drop", "outliers"]
    result = CliRunner().invoke(app, ["refine", "--study", str(folder), "--replay", run, "--no-report"])
    assert result.exit_code == 0, result.output
    assert "identical" in result.output
    replayed = Run.load(folder, "latest")
    original = Run.load(folder, run)
    assert replayed.id != run
    assert replayed.assignments["cluster"].astype("Int64").equals(original.assignments["cluster"].astype("Int64"))
