"""A grid run in its own process whose clusterings hang, for the SIGTERM test.

``python grid_sigterm_job.py STUDY PIDS_FOLDER``: each worker writes its pid to
PIDS_FOLDER and sleeps; the test then sends SIGTERM to this process.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def hanging_cluster(reductions, input_id, reduction_id, setting_id, spec, seed, settings):
    """Stands in for ``semclust.validation.grid_runner._cluster``: report the pid, then never finish."""
    folder = Path(os.environ["PIDS_FOLDER"])
    (folder / f"{os.getpid()}.pid").write_text(str(os.getpid()))
    time.sleep(600)


if __name__ == "__main__":
    import semclust.validation.grid_runner as runner
    from semclust.study.workspace import Study
    from semclust.validation.grid_file import parse_grid

    os.environ["PIDS_FOLDER"] = sys.argv[2]
    runner._cluster = hanging_cluster
    grid = parse_grid({"name": "hang", "embedders": ["tfidf:10"], "reducers": ["pca:3"],
                       "clusterers": {"kmeans": [3, 4, 5, 6]}})  # fmt: skip
    with Study(sys.argv[1]) as study:
        runner.run_grid(study, grid, n_jobs=2, progress=False, plots=False)
