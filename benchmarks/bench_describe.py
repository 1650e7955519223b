"""Throughput of the describe runner against a local fake server that takes 1 s per request.

A vision LLM is latency-bound, so the runner should reach close to ``concurrency``
images per second when each request takes 1 s. This measures how close it gets
(image decoding, downscaling, JPEG encoding, HTTP and bookkeeping included). The
server runs in its own process, so it does not compete for the client's GIL.

``ratio`` compares with the ideal ``C / delay``; ``vs bound`` with what ``n`` images can
reach at best, ``n / (ceil(n / C) * delay)``, since the last round is only partly full.

Run: ``python benchmarks/bench_describe.py`` (about a minute). Concurrency 1 uses fewer
images (``--serial-images``, default 20), since it needs 1 s per image.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from fake_llm_server import MemoryCache, write_images  # noqa: E402
from semclust.describe import PRESETS, create_describer, describe_images  # noqa: E402


@contextlib.contextmanager
def fake_server(delay: float) -> Iterator[str]:
    """Start ``tests/fake_llm_server.py`` in a subprocess; yields its base URL."""
    command = [sys.executable, str(TESTS / "fake_llm_server.py"), "--delay", str(delay)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()


def measure(items, concurrency: int, base_url: str) -> tuple[int, float]:
    """Describe ``items`` from scratch; returns (images described, seconds)."""
    describer = create_describer("openai:fake-vision-1", base_url=base_url + "/v1")
    summary = describe_images(
        items,
        describer,
        PRESETS["connotative"],
        MemoryCache(),
        concurrency=concurrency,
        progress=False,
    )
    assert summary.ok == len(items), summary
    return summary.ok, summary.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--serial-images", type=int, default=20)
    parser.add_argument("--delay", type=float, default=1.0, help="server seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    args = parser.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)  # a local server needs no key

    with tempfile.TemporaryDirectory() as folder, fake_server(args.delay) as base_url:
        items = write_images(Path(folder), args.images, size=tuple(args.size))
        width, height = args.size
        print(
            f"fake server: {args.delay:g} s per request; {width}x{height} PNGs, sent at <= 512 px"
        )
        print(
            f"{'concurrency':>11} {'images':>6} {'seconds':>8} {'img/s':>7} {'ideal':>6}"
            f" {'ratio':>6} {'vs bound':>8}"
        )
        for concurrency in args.concurrency:
            n = args.serial_images if concurrency == 1 else args.images
            done, seconds = measure(items[:n], concurrency, base_url)
            rate = done / seconds
            ideal = concurrency / args.delay
            bound = done / (math.ceil(done / concurrency) * args.delay)
            print(
                f"{concurrency:>11} {done:>6} {seconds:>8.2f} {rate:>7.2f} {ideal:>6.1f}"
                f" {rate / ideal:>6.1%} {rate / bound:>8.1%}"
            )


if __name__ == "__main__":
    main()
