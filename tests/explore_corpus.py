"""A generated study of any size for the explore tests and benchmark, clustered by the real pipeline.

Items point at a small pool of real image files (a social-media corpus repeats images too),
so 100,000 items need no 100,000 files; the study is filled through its store (ingest's
hashing of every row is not what is measured here) and clustered with ``tfidf`` +
``pca`` + ``kmeans``, which take seconds at 100k items.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

THEMES = {
    "protest": "protest crowd street signs march banner police",
    "climate": "climate wind turbine solar energy renewable future",
    "flood": "flood water disaster rain storm damage rescue",
    "children": "children school classroom victims innocence family",
    "politics": "politician speech parliament election vote campaign",
    "food": "food meal restaurant dinner cooking kitchen",
    "sports": "football stadium fans match goal celebration",
    "animals": "dog cat pet animal shelter adoption",
}


def make_study(folder: Path, n_items: int, n_images: int = 120, seed: int = 0, k: int = 8):
    """A study in ``folder`` with ``n_items`` items and one run; returns the open Study and the Run."""
    from semclust.core.store.store import ImageRow, ItemRow
    from semclust.study.config import RunConfig
    from semclust.study.pipeline import execute_run, label_run
    from semclust.study.workspace import Study

    rng = np.random.default_rng(seed)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    paths, shas = [], []
    for i in range(n_images):
        path = images / f"img{i:04d}.png"
        colour = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(colour).resize((320, 240), Image.Resampling.BICUBIC).save(path)
        paths.append(str(path))
        shas.append(hashlib.sha256(path.read_bytes()).hexdigest())
    study = Study(folder / "study")
    study.store.put_images(ImageRow(s, "0" * 16, 320, 240, "PNG", 1000) for s in shas)
    themes = list(THEMES)
    rows = []
    for i in range(n_items):
        theme = themes[i % len(themes)]
        words = rng.choice(THEMES[theme].split(), size=5)
        description = f"An image about {theme}: " + " ".join(words) + f" item{i}"
        image = i % n_images
        meta = {"description": description, "text": f"post {i} #{theme}", "likes": int(rng.integers(0, 1000)),
                "account": f"user{i % 37}"}
        status, error = ("error", "corrupt or truncated image: test") if i % 997 == 5 else ("ok", None)
        if i % 499 == 7:
            meta["description"] = ""  # an item the describer gave nothing for
        rows.append(ItemRow(f"p{i}", i, paths[image], shas[image], status, error, meta))
    study.store.put_items(rows)
    study.store.set_state("description_source", json.dumps({"describer": "column:description", "model": "",
                                                            "prompt": "", "params": "{}"}))
    config = RunConfig(describer="column:description", embedder="tfidf:20", reducer="pca:5",
                       clusterer=f"kmeans:{k}", map="pca", seed=seed)
    if n_items > 30_000:  # the report is not what the 100k benchmark measures
        from semclust.study.pipeline import cluster_run

        run = cluster_run(study, config, progress=False)
        label_run(run)
    else:
        run = execute_run(study, config, progress=False)
    return study, run
