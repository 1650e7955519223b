"""semclust explore in headless Chromium: time to the map's first paint and to the first gallery page.

For each size (default 1k, 20k and 100k items) a study is generated and clustered
(tests/explore_corpus.py), the app is served on 127.0.0.1, and Chromium (network blocked
except for 127.0.0.1) opens:

* the map: milliseconds from navigation start to the first frame painted with every point
  (WebGL through SwiftShader on a CPU: a laptop's GPU is faster), and how long a zoom into
  the middle quarter takes to redraw (responsiveness);
* the largest cluster's gallery with an empty thumbnail cache (thumbnails made on request)
  and again with a warm one: milliseconds until every image in the first screenful has
  decoded;

and prints the thumbnail cache's size per image. Run with ``nice``; the machine's load
shows in the numbers, which are from one run.

    nice .venv/bin/python benchmarks/bench_explore.py [--sizes 1000 20000 100000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser_support import serving  # noqa: E402
from explore_corpus import make_study  # noqa: E402
from test_explore_browser import offline_chromium  # noqa: E402

#: Milliseconds for plotly to redraw the map zoomed into the middle quarter (then back).
ZOOM_JS = """
const done = arguments[arguments.length - 1];
const gd = document.getElementById('map');
const x = gd._fullLayout.xaxis.range, y = gd._fullLayout.yaxis.range;
const q = (r) => [r[0] + (r[1] - r[0]) / 4, r[1] - (r[1] - r[0]) / 4];
const started = performance.now();
Plotly.relayout(gd, {'xaxis.range': q(x), 'yaxis.range': q(y)})
  .then(() => new Promise(requestAnimationFrame))
  .then(() => { const zoom = performance.now() - started; return Plotly.relayout(gd, {'xaxis.range': x, 'yaxis.range': y}).then(() => done(zoom)); });
"""

FIRST_SCREEN_JS = """
const imgs = Array.from(document.querySelectorAll('.tile img'))
  .filter(i => i.getBoundingClientRect().top < window.innerHeight);
if (imgs.length === 0 || !imgs.every(i => i.complete && i.naturalWidth > 0)) { return null; }
return {ms: performance.now(), n: imgs.length};
"""


def wait_for(driver, script, timeout=600.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(script[:60])


def measure(n_items: int, folder: Path, profile: Path) -> dict:
    from semclust.exploration.app import create_app
    from semclust.exploration.thumbs import FOLDER, cache_size

    started = time.perf_counter()
    study, run = make_study(folder, n_items, n_images=400)
    built = time.perf_counter() - started
    started = time.perf_counter()
    app = create_app(study.folder, run.id)
    loaded = time.perf_counter() - started
    largest = int(run.clusters.iloc[0]["cluster"])
    size = int(run.clusters.iloc[0]["size"])
    with serving(app) as base:
        driver = offline_chromium(profile)
        try:
            driver.get(base + "/")
            map_ms = float(wait_for(driver, "return document.getElementById('map').getAttribute('data-ready-ms')"))
            driver.set_script_timeout(300)
            zoom_ms = float(driver.execute_async_script(ZOOM_JS))
            shutil.rmtree(study.folder / FOLDER, ignore_errors=True)
            driver.get(f"{base}/cluster/{largest}")
            cold = wait_for(driver, FIRST_SCREEN_JS)
            driver.get(f"{base}/cluster/{largest}")
            warm = wait_for(driver, FIRST_SCREEN_JS)
        finally:
            driver.quit()
    n_thumbs, n_bytes = cache_size(study.folder)
    study.close()
    return {"items": n_items, "build_s": built, "load_s": loaded, "map_ms": map_ms, "zoom_ms": zoom_ms, "cluster_size": size,
            "cold_ms": cold["ms"], "warm_ms": warm["ms"], "first_screen": cold["n"],
            "thumb_kb": n_bytes / max(n_thumbs, 1) / 1024, "thumbs": n_thumbs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000, 100000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            rows.append(measure(n, Path(tmp) / f"s{n}", Path(tmp) / f"profile{n}"))
            print(f"done {n:,} items", file=sys.stderr)
    print(f"{'items':>8} {'map first paint':>16} {'zoom redraw':>12} {'gallery 1st page cold':>22} {'warm':>8} "
          f"{'cluster size':>13} {'app load':>9} {'thumb KB/image':>15}")
    for r in rows:
        print(f"{r['items']:>8,} {r['map_ms']:>13,.0f} ms {r['zoom_ms']:>9,.0f} ms "
              f"{r['cold_ms']:>19,.0f} ms {r['warm_ms']:>5,.0f} ms "
              f"{r['cluster_size']:>13,} {r['load_s']:>7.1f} s {r['thumb_kb']:>12.1f} KB")
    print(f"(first screenful = {rows[0]['first_screen']} thumbnails; thumbnail cache: {rows[-1]['thumbs']} files "
          "for the last size; generation of the study not timed)")


if __name__ == "__main__":
    main()
