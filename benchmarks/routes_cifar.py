"""Real-data check of the routes on the CIFAR-10 / LLaVA sample: AMI of each route against the labels.

Run:  .venv/bin/python benchmarks/routes_cifar.py [--image-embedder cnn:vgg16] [--weights FILE|random]

Routes: text (LLaVA descriptions -> MiniLM), image (CNN features), concat (vector-level:
both blocks, each row-normalised).  Each is clustered with k-means (K = 10, the number of
classes) after PCA to 10 dimensions, and compared with the hidden CIFAR-10 label and with
the other routes (the zhang-leung AMI diagnostic).  Without pretrained weights on this
machine the image routes cannot run; the script says so plainly.  ``--weights random``
runs them on a randomly initialised network, which checks the machinery, not the method.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from itertools import combinations
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SEMCLUST_QUIET", "1")

from semclust.core.errors import MissingModelError  # noqa: E402
from semclust.study.config import RunConfig  # noqa: E402
from semclust.study.pipeline import cluster_run  # noqa: E402
from semclust.study.workspace import Study  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "sample" / "cifar10-llava" / "posts.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-embedder", default="cnn:vgg16")
    parser.add_argument("--weights", default=None, help="a weights file, or 'random' (machinery check only)")
    args = parser.parse_args()
    if not SAMPLE.exists():
        raise SystemExit(f"the sample is absent: {SAMPLE}")
    labels = {}
    with tempfile.TemporaryDirectory() as tmp:
        study = Study(Path(tmp) / "study")
        study.ingest(SAMPLE, progress=False)
        study.describe("column:description")
        base = dict(reducer="pca:10", clusterer="kmeans:10", map="none", seed=0,
                    image_embedder=args.image_embedder, image_weights=args.weights)
        for route in ("text", "image", "concat"):
            try:
                run = cluster_run(study, RunConfig(route=route, **base), progress=False)
            except MissingModelError as exc:
                print(f"{route:7s} not run: {exc}")
                continue
            table = run.assignments.dropna(subset=["cluster"])
            labels[route] = table.set_index("id")["cluster"].astype(int)
            ami = adjusted_mutual_info_score(table["label"], table["cluster"].astype(int))
            print(f"{route:7s} AMI vs CIFAR-10 label = {ami:.3f}  (n = {len(table)})")
        study.close()
    for a, b in combinations(labels, 2):
        joined = pd.concat([labels[a], labels[b]], axis=1, join="inner")
        print(f"AMI {a} vs {b} = {adjusted_mutual_info_score(joined.iloc[:, 0], joined.iloc[:, 1]):.3f}")
    if args.weights == "random":
        print("NOTE: image features came from a randomly initialised network (machinery check, not the method)")


if __name__ == "__main__":
    main()
