"""What Ctrl-C costs: requests the server answered (paid for) vs descriptions stored.

Runs ``semclust describe`` in a child process against the local fake server (1 s per
answer), presses Ctrl-C (a real SIGINT) once ``--after`` requests have arrived, and
counts on the server and in the study's SQLite store. ``--src`` runs another checkout's
``src`` folder (e.g. one made with ``git archive OLD | tar -x -C /tmp/old``) side by side.

    python benchmarks/bench_interrupt.py [--images 124] [--after 20] [--src /tmp/old/src]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_llm_server import FakeLLMServer, write_images  # noqa: E402


def run_once(src: str | None, n_images: int, after: int, concurrency: int) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"} | {"SEMCLUST_QUIET": "1"}
    if src:
        env["PYTHONPATH"] = src
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer(delay=1.0) as server:
        folder, study = Path(tmp) / "img", Path(tmp) / "study"
        write_images(folder, n_images, size=(64, 48))
        cli = [sys.executable, "-m", "semclust.cli.main"]
        subprocess.run([*cli, "ingest", str(folder), "--study", str(study), "-q"], env=env,
                       check=True, capture_output=True)
        process = subprocess.Popen(
            [*cli, "describe", "--study", str(study), "--describer", "openai:m", "--base-url",
             server.openai_base_url, "--concurrency", str(concurrency), "-q"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while len(server.requests) < after:
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
        time.sleep(1.5)  # let requests already on the wire reach the server's count
        sent = len(server.requests)
        with sqlite3.connect(study / "study.sqlite") as db:
            stored = db.execute("SELECT COUNT(*) FROM descriptions").fetchone()[0]
    last = output.strip().splitlines()[-1] if output.strip() else ""
    return {"sent": sent, "stored": stored, "lost": sent - stored, "exit": process.returncode,
            "message": last[:100]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=124)
    parser.add_argument("--after", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--src", action="append", default=[],
                        help="another checkout's src folder to compare (repeatable)")
    args = parser.parse_args()
    for src in [None, *args.src]:
        figures = run_once(src, args.images, args.after, args.concurrency)
        label = src or "this checkout"
        print(f"{label}: sent {figures['sent']}, stored {figures['stored']}, lost {figures['lost']}, "
              f"exit {figures['exit']}; last line: {figures['message']!r}")


if __name__ == "__main__":
    main()
