"""How many epochs the report's map needs: the reducer's graph laid out in 2-D for 100/50/30/20 epochs.

Run:  nice .venv/bin/python benchmarks/bench_map_epochs.py [--corpora synth-100000,newsgroups]
          [--cache ~/.cache/semclust/textsets]

Each corpus is reduced and clustered with the auto preset's settings, then the reducer's
``graph_`` is laid out by :func:`semclust.stages.map2d.map_from_graph` at each epoch count.
Printed: seconds of the layout, the share of each clustered item's 10 nearest map neighbours in
its own cluster and the map's trustworthiness against the input vectors
(:func:`bench_scale.map_quality`). Corpora as in benchmarks/bench_umap_epochs.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import map_quality  # noqa: E402
from bench_umap_epochs import corpus  # noqa: E402

EPOCHS = (100, 50, 30, 20)


def main() -> None:
    from semclust.stages import map2d
    from semclust.stages.cluster import create_clusterer
    from semclust.stages.reduce import create_reducer
    from semclust.study.adaptive import auto_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", default="synth-100000,newsgroups")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "semclust" / "textsets"))
    args = parser.parse_args()
    for name in args.corpora.split(","):
        X, _ = corpus(name, args.cache)
        settings = auto_settings(len(X))
        reducer = create_reducer(settings.reducer, 0)
        reduced = reducer.fit_transform(X)
        labels = create_clusterer(settings.clusterer, 0).fit_predict(reduced)
        for epochs in EPOCHS:
            map2d.map_epochs = lambda n, epochs=epochs: epochs  # noqa: E731  (each count in turn)
            start = time.perf_counter()
            coords = map2d.map_from_graph(reduced, reducer.graph_, 0)
            seconds = time.perf_counter() - start
            print({"corpus": name, "n": len(X), "epochs": epochs, "layout s": round(seconds, 1),
                   **map_quality(coords, labels, X)}, flush=True)


if __name__ == "__main__":
    main()
