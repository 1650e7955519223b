"""Layout in a real browser: sheets whose images never overlap, app images scaled to their box.

Skipped, with the reason, where Chromium, chromedriver or selenium is missing.
"""

from __future__ import annotations

import pandas as pd
import pytest

from browser_support import (
    IMAGE_BOXES_JS,
    By,
    Keys,
    WebDriverWait,
    chromium,
    overlaps,
    pairs_study,
    serving,
)
from semclust.validation import sampling
from semclust.validation.annotate import create_app
from semclust.validation.sampling_export import InterpretabilityTest, export_interpretability

#: A photo and a CIFAR-sized picture: a tiny image must not shrink its card.
SIZES = ((320, 200), (32, 32))


@pytest.fixture
def sheets(tmp_path, make_image):
    """A pairs sheet (12 pairs) and an interpretability sheet (4 sets of 3) of 200-px thumbs."""
    paths = {
        f"img{i}": str(make_image(tmp_path / "images" / f"img{i}.png", size=SIZES[i % 2], seed=i))
        for i in range(12)
    }
    images = pd.Series(paths)
    provenance = sampling.Provenance("pairs", "s", None, 0)
    pairs = sampling.draw_pairs(list(paths), 12, random_state=0)
    sampling.export_pairs(pairs, images, tmp_path / "pairs", provenance, coders=["ann"])
    ids = list(paths)
    test = InterpretabilityTest(
        sets=pd.DataFrame(
            {
                "set_id": [f"S{i:03d}" for i in range(1, 5)],
                "true_cluster": [0, 1, 2, 3],
                "items": [tuple(ids[3 * i : 3 * i + 3]) for i in range(4)],
            }
        ),
        letters=pd.DataFrame(
            {"letter": list("ABCD"), "cluster": [0, 1, 2, 3], "description": ["w", "x", "y", "z"]}
        ),
    )
    export_interpretability(test, images, tmp_path / "sets", provenance, evaluators=["ann"])
    return [tmp_path / "pairs.html", tmp_path / "sets.html"]


def test_sheet_images_never_overlap_and_stay_in_the_page(sheets, tmp_path):
    driver = chromium(tmp_path / "profile")
    try:
        for width in (800, 1280, 1920):
            driver.set_window_size(width, 900)
            for sheet in sheets:
                driver.get(sheet.as_uri())
                WebDriverWait(driver, 10).until(
                    lambda d: d.execute_script(
                        "return Array.from(document.images).every(i => i.complete)"
                    )
                )
                page = driver.execute_script(IMAGE_BOXES_JS)
                assert page["width"] <= width
                boxes = page["boxes"]
                assert len(boxes) in (24, 12), sheet.name
                assert overlaps(boxes) == [], f"{sheet.name} at {width} px"
                outside = [b for b in boxes if b[0] < 0 or b[2] > page["width"] + 0.5]
                assert outside == [], f"{sheet.name} at {width} px: images past the page's width"
                widths = {round(b[2] - b[0]) for b in boxes}
                assert widths == {200}, f"{sheet.name} at {width} px: thumbnails {widths}"
    finally:
        driver.quit()


def test_app_scales_small_images_to_their_box_and_shows_them_full_size(tmp_path, make_image):
    folder, task = pairs_study(tmp_path, make_image, n_images=4, n_pairs=2, size=(32, 32))
    driver = chromium(tmp_path / "profile")
    try:
        with serving(create_app(folder, task.name)) as base:
            driver.get(base + "/")
            driver.find_element(By.ID, "coder").send_keys("ann", Keys.ENTER)
            WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/code/ann/1"))
            WebDriverWait(driver, 10).until(
                lambda d: d.execute_script(
                    "return Array.from(document.querySelectorAll('.images img'))"
                    ".every(i => i.complete && i.naturalWidth === 32)"
                )
            )
            shown = driver.execute_script(
                "return Array.from(document.querySelectorAll('.images img')).map(i => {"
                " var r = i.getBoundingClientRect(); return [r.width, r.height,"
                " getComputedStyle(i).objectFit, getComputedStyle(i).imageRendering]; })"
            )
            for width, height, fit, rendering in shown:
                assert width > 300 and height > 300  # a 32-px image fills its box
                assert fit == "contain"  # keeping its aspect ratio
                assert rendering == "pixelated"  # upscaled without blur
            driver.find_elements(By.CSS_SELECTOR, "button.zoom")[1].click()
            viewer = driver.find_element(By.ID, "viewer")
            assert viewer.get_attribute("open") is not None
            big = driver.execute_script(
                "var r = document.getElementById('viewer-image').getBoundingClientRect();"
                "return [r.width, r.height, document.getElementById('viewer-image').src]"
            )
            assert big[0] > 1000 and big[1] > 700
            assert big[2] == driver.find_elements(By.CSS_SELECTOR, ".images img")[1].get_attribute(
                "src"
            )
            driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            WebDriverWait(driver, 5).until(lambda d: viewer.get_attribute("open") is None)
            # shortcuts work again once the viewer is closed
            driver.find_element(By.TAG_NAME, "body").send_keys("d")
            assert driver.find_element(By.ID, "denotative-2").is_selected()
    finally:
        driver.quit()
