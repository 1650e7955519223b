"""Each metric's default against its other reading, on the CIFAR-10 / LLaVA sample.

Run:  .venv/bin/python benchmarks/metrics_cifar.py [--min-cluster-size 15]

The descriptions are embedded with the bundled all-MiniLM-L6-v2, reduced with UMAP
(10 components, 15 neighbours, seed 0) and clustered twice: HDBSCAN (which leaves
outliers) and k-means with K = 10. For each clustering the script prints, against the
hidden CIFAR-10 labels:

- AMI in the default form and in the other (max vs mean normaliser), with the outliers
  as one more label and without them;
- S_Dbw (in the reduced space) by default and in both variants, and on the data scaled
  by 10 (only appendix A.2's reading keeps its value);
- pair precision/recall/F1 on simulated coded pairs (2,000 random pairs, "same" when the
  two images share a CIFAR label: a stand-in for human codes) by default and in both forms;
- the K that ``choose_k`` picks on the reduced space (grid 2..20) by default.

Only functions that exist in every version are called for the "default" lines, so the
same script run on an older checkout shows what its defaults gave.
"""

from __future__ import annotations

import argparse
import inspect
import os
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from semclust.stages.embed import create_text_embedder  # noqa: E402
from semclust.stages.reduce import create_reducer  # noqa: E402
from semclust.validation.evaluate import choose_k, external_scores, pair_scores  # noqa: E402
from semclust.validation.evaluate.sdbw import s_dbw  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "sample" / "cifar10-llava" / "posts.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-cluster-size", type=int, default=15)
    parser.add_argument("--cache", default=None, help="an .npy file to keep the embeddings in")
    args = parser.parse_args()
    if not SAMPLE.exists():
        raise SystemExit(f"the sample is not here: {SAMPLE}")
    posts = pd.read_csv(SAMPLE)
    X = _embeddings(posts["description"].fillna("").tolist(), args.cache)
    reduced = create_reducer("umap:10:15", random_state=0).fit_transform(X)
    from hdbscan import HDBSCAN
    from sklearn.cluster import KMeans

    runs = {
        f"hdbscan:{args.min_cluster_size}": HDBSCAN(min_cluster_size=args.min_cluster_size).fit_predict(reduced),
        "kmeans:10": KMeans(10, random_state=0, n_init=3).fit_predict(reduced),
    }
    codes = _simulated_codes(posts, 2000)
    print(f"semclust code: {Path(inspect.getfile(s_dbw)).parents[2]}")
    for name, labels in runs.items():
        print(f"\n== {name}: {len(set(labels) - {-1})} clusters, {np.mean(labels == -1):.1%} outliers")
        _ami(posts["label"], labels)
        _sdbw(reduced, labels)
        _pairs(posts["id"], labels, codes)
    print(f"\nchoose_k (k-means on the UMAP space, K = 2..20, defaults): K = "
          f"{choose_k(reduced, range(2, 21)).k}  (the sample has 10 CIFAR classes)")


def _embeddings(texts: list[str], cache: str | None) -> np.ndarray:
    if cache and Path(cache).exists():
        return np.load(cache)
    X = np.asarray(create_text_embedder("st:all-MiniLM-L6-v2").embed_texts(texts))
    if cache:
        np.save(cache, X)
    return X


def _ami(truth: pd.Series, labels: np.ndarray) -> None:
    default = external_scores(truth, labels)
    print(f"AMI default     : {default.with_outliers.ami:.4f} with outliers as a label, "
          f"{default.without_outliers.ami:.4f} without ({default.n_outliers} outliers)")
    for form in ("max", "arithmetic"):
        s = external_scores(truth, labels, average_method=form)
        print(f"AMI {form:<11} : {s.with_outliers.ami:.4f} with outliers as a label, "
              f"{s.without_outliers.ami:.4f} without")


def _sdbw(reduced: np.ndarray, labels: np.ndarray) -> None:
    print(f"S_Dbw default   : {s_dbw(reduced, labels):.4f}   (data x10: {s_dbw(10 * reduced, labels):.4f})")
    for variant in ("halkidi", "s-dbw"):
        value, scaled = s_dbw(reduced, labels, variant=variant), s_dbw(10 * reduced, labels, variant=variant)
        print(f"S_Dbw {variant:<9} : {value:.4f}   (data x10: {scaled:.4f})")


def _pairs(ids: pd.Series, labels: np.ndarray, codes: pd.DataFrame) -> None:
    assignments = pd.DataFrame({"id": ids, "cluster": labels})
    default = pair_scores(assignments, codes)
    print(f"pair F1 default : {default.f1:.4f} (P {default.precision:.4f}, R {default.recall:.4f}, "
          f"{default.n_pairs} pairs scored)")
    for outliers, name in (("different", "all coded pairs"), ("exclude", "clustered pairs")):
        s = pair_scores(assignments, codes, outliers=outliers)
        print(f"pair F1 {name:<16}: {s.f1:.4f} (P {s.precision:.4f}, R {s.recall:.4f}, "
              f"{s.n_pairs} pairs scored, {s.n_excluded} left out)")


def _simulated_codes(posts: pd.DataFrame, n: int) -> pd.DataFrame:
    """Random distinct pairs; "same" = the two images share a CIFAR label (stands in for coders)."""
    rng = np.random.default_rng(0)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < n:
        a, b = sorted(rng.choice(len(posts), 2, replace=False))
        pairs.add((int(a), int(b)))
    a, b = map(np.array, zip(*sorted(pairs), strict=True))
    labels = posts["label"].to_numpy()
    return pd.DataFrame({"id_a": posts["id"].to_numpy()[a], "id_b": posts["id"].to_numpy()[b],
                         "same": (labels[a] == labels[b]).astype(int)})


if __name__ == "__main__":
    main()
