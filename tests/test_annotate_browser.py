"""End to end in a real browser: headless Chromium codes two pairs with keys and the mouse.

Skipped, with the reason, where Chromium, chromedriver or selenium is missing.
"""

from __future__ import annotations

import re
import shutil

import pytest

from browser_support import By, Keys, WebDriverWait, chromium, pairs_study, serving
from semclust.validation.annotate import AnnotationStore, create_app, export_answers


@pytest.fixture
def served(tmp_path, make_image):
    """A study with a 4-pair task, served by uvicorn on a free 127.0.0.1 port in a thread."""
    folder, task = pairs_study(tmp_path, make_image, n_images=6, n_pairs=4)
    app = create_app(folder, task.name, allowed_hosts=["127.0.0.1", "localhost"])
    with serving(app) as base:
        yield base, folder, task


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


def _wait_for_path(driver, path: str) -> None:
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith(path))


def _progress(driver) -> str:
    return driver.find_element(By.ID, "progress-text").text


def _checked(driver) -> set[str]:
    return {e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "input:checked")}


def test_code_two_pairs_with_keys_and_mouse(served, browser, tmp_path):
    base, folder, task = served
    browser.get(base + "/")
    name = browser.find_element(By.ID, "coder")
    name.send_keys("ann", Keys.ENTER)
    _wait_for_path(browser, "/code/ann/1")
    assert _progress(browser) == "0 of 4 done"
    loaded = browser.execute_script(
        "return Array.from(document.querySelectorAll('.images img'))"
        ".map(i => i.complete && i.naturalWidth)"
    )
    assert loaded == [320, 320]  # both images of the pair arrived and decoded

    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("d")  # denotative: closely related
    body.send_keys("k")  # connotative: loosely related
    assert _checked(browser) == {"denotative-2", "connotative-1"}
    body.send_keys(Keys.ENTER)
    _wait_for_path(browser, "/code/ann/2")
    assert _progress(browser) == "1 of 4 done"

    browser.find_element(By.CSS_SELECTOR, "label[for=denotative-0]").click()
    browser.find_element(By.CSS_SELECTOR, "label[for=connotative-2]").click()
    browser.find_element(By.ID, "save").click()
    _wait_for_path(browser, "/code/ann/3")

    browser.refresh()
    assert _progress(browser) == "2 of 4 done"
    browser.get(base + "/code/ann")  # a return visit resumes at the first open unit
    _wait_for_path(browser, "/code/ann/3")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
    _wait_for_path(browser, "/code/ann/2")
    assert _checked(browser) == {"denotative-0", "connotative-2"}
    assert browser.execute_script("return document.getElementById('progress').value") == 2
    shot = tmp_path / "annotate.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    shutil.copy(shot, tmp_path / "annotate_screenshot.png")

    with AnnotationStore(folder) as store:
        codes = export_answers(store, task.name)
        order = store.coder_order(task, "ann")
    by_pair = {
        (a, b): (d, c)
        for a, b, d, c in zip(
            codes["id_a"],
            codes["id_b"],
            codes["denotative_ann"],
            codes["connotative_ann"],
            strict=True,
        )
    }
    first, second = (task.units[p].items for p in order[:2])
    assert by_pair == {first: (2, 1), second: (0, 2)}
    assert re.fullmatch(r"\d+", str(codes["pair"].iloc[0]))
