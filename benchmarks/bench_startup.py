"""How long commands that need no model take to start: ``python -X importtime`` per command.

Prints, per command, the best of ``--repeat`` runs: milliseconds spent importing semclust
(and what it pulls in) and the wall time of the whole process. ``--src`` adds another
checkout's ``src`` folder (``git archive OLD src | tar -x -C /tmp/old``) side by side.

    python benchmarks/bench_startup.py [--repeat 3] [--src /tmp/old/src]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

COMMANDS = (["--help"], ["evaluate", "--help"], ["annotate", "export", "--help"], ["sample", "--help"])


def import_ms(stderr: str) -> float:
    """Cumulative microseconds of the top-level (not nested) semclust imports, as milliseconds."""
    total = 0
    for line in stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        top_level = len(name) - len(name.lstrip()) == 1
        if top_level and name.strip().split(".")[0] == "semclust":
            total += int(parts[1])
    return total / 1000


def measure(command: list[str], src: str | None, repeat: int) -> tuple[float, float]:
    env = dict(os.environ) | ({"PYTHONPATH": src} if src else {})
    best_import, best_wall = float("inf"), float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "semclust.cli.main", *command],
                              env=env, capture_output=True, text=True)
        best_wall = min(best_wall, time.perf_counter() - started)
        best_import = min(best_import, import_ms(done.stderr))
    return best_import, best_wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--src", action="append", default=[])
    args = parser.parse_args()
    for command in COMMANDS:
        for src in [None, *args.src]:
            imported, wall = measure(command, src, args.repeat)
            print(f"semclust {' '.join(command):24s} [{src or 'this checkout'}]: "
                  f"importing semclust {imported:6.0f} ms, whole process {wall:5.2f} s")


if __name__ == "__main__":
    main()
