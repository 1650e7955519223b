"""Headless Chromium and a uvicorn server in a thread, for the browser tests.

Importing this module skips the importing test module (with the reason) where Chromium,
chromedriver or selenium is missing.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
    pytest.skip(
        f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="needs selenium (pip install selenium)"
)
from selenium.webdriver.common.by import By  # noqa: E402  (only once selenium is there)
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

__all__ = [
    "IMAGE_BOXES_JS",
    "By",
    "Keys",
    "WebDriverWait",
    "chromium",
    "overlaps",
    "pairs_study",
    "serving",
]


@contextmanager
def serving(app):
    """``app`` served on a free 127.0.0.1 port; yields the base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def pairs_study(root: Path, make_image, *, n_images: int, n_pairs: int, size=(320, 240)):
    """A study of ``n_images`` generated images and a pairs task of ``n_pairs``: (folder, task)."""
    from semclust.study.workspace import Study
    from semclust.validation import sampling
    from semclust.validation.annotate import AnnotationStore, load_task

    for i in range(n_images):
        make_image(root / "images" / f"img{i}.png", size=size, seed=i)
    folder = root / "study"
    with Study(folder) as s:
        s.ingest(root / "images", progress=False)
        images = s.items().set_index("id")["image"]
    pairs = sampling.draw_pairs(images.index.tolist(), n_pairs, random_state=0)
    prefix = root / "pairs"
    provenance = sampling.Provenance("pairs", "s", None, 0)
    sampling.export_pairs(pairs, images, prefix, provenance, coders=["ann"])
    with AnnotationStore(folder) as store:
        return folder, load_task(store, folder, prefix.with_name("pairs.csv"))


def chromium(profile: Path, width: int = 1280, height: int = 900):
    """A headless Chromium driven by the system chromedriver (never a downloaded browser)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    return driver


#: The boxes of every <img> of the page, in CSS pixels, and the viewport's width.
IMAGE_BOXES_JS = """
return {
  width: document.documentElement.clientWidth,
  boxes: Array.from(document.images).map(function (i) {
    var r = i.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  })
};
"""


def overlaps(boxes) -> list[tuple[int, int]]:
    """Index pairs of boxes whose insides intersect (touching edges do not count)."""
    found = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            if min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5:
                found.append((i, j))
    return found
