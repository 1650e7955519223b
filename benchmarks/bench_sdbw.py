"""Time semclust's S_Dbw against the s-dbw package on the same data, side by side.

Usage::

    python benchmarks/bench_sdbw.py                      # n = 2k, 10k, 50k, 100k
    python benchmarks/bench_sdbw.py --sizes 2000 10000 --dim 384 --clusters 25

Data: Gaussian blobs (scikit-learn ``make_blobs``) with 5% of labels set to -1. Both sides
compute Halkidi's S_Dbw with outliers filtered and the member nearest each mean as centre
(``S_Dbw(method="Halkidi", alg_noise="filter", centr="mean", nearest_centr=True)``); the
package is skipped above ``--package-max-n`` points because it loops over points in Python.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from s_dbw import S_Dbw
from sklearn.datasets import make_blobs

from semclust.validation.evaluate.sdbw import s_dbw


def _best_time(fn, repeat: int) -> tuple[float, float]:
    """Fastest of ``repeat`` calls and the value returned."""
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 10_000, 50_000, 100_000])
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--package-max-n", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of semclust's (best kept)")
    args = parser.parse_args()

    print(f"dim={args.dim} clusters={args.clusters} outliers=5%")
    print(f"{'n':>8} {'semclust s':>11} {'s-dbw s':>9} {'ratio':>7} {'|difference|':>13}")
    for n in args.sizes:
        X, y = make_blobs(n, n_features=args.dim, centers=args.clusters, random_state=0)
        y[np.random.default_rng(0).random(n) < 0.05] = -1
        ours, value = _best_time(lambda X=X, y=y: s_dbw(X, y), args.repeat)
        if n > args.package_max_n:
            print(f"{n:>8} {ours:>11.3f} {'skipped':>9} {'':>7} {'':>13}")
            continue
        theirs, reference = _best_time(
            lambda X=X, y=y: S_Dbw(
                X, y, method="Halkidi", alg_noise="filter", centr="mean", nearest_centr=True
            ),
            1,
        )
        print(
            f"{n:>8} {ours:>11.3f} {theirs:>9.2f} {theirs / ours:>6.0f}x "
            f"{abs(value - reference):>13.1e}"
        )


if __name__ == "__main__":
    main()
