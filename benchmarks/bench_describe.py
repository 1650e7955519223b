"""Throughput of the describe runner against a local fake server that takes 1 s per request.

A vision LLM is latency-bound, so the runner should reach close to ``concurrency``
images per second when each request takes 1 s. This measures how close it gets
(image decoding, JPEG encoding, HTTP and bookkeeping overhead included).

Run: ``python benchmarks/bench_describe.py`` (about a minute). Concurrency 1 uses fewer
images (``--serial-images``, default 20), since it needs 1 s per image.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_llm_server import FakeLLMServer, MemoryCache, write_images  # noqa: E402
from semclust.describe import PRESETS, create_describer, describe_images  # noqa: E402


def measure(items, concurrency: int, delay: float) -> tuple[int, float]:
    """Describe ``items`` from scratch; returns (images described, seconds)."""
    with FakeLLMServer(delay=delay) as server:
        describer = create_describer("openai:fake-vision-1", base_url=server.openai_base_url)
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
    args = parser.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)  # a local server needs no key

    with tempfile.TemporaryDirectory() as folder:
        items = write_images(Path(folder), args.images, size=(640, 480))
        print(f"fake server: {args.delay:g} s per request; images 640x480 PNG, sent at 512 px")
        print(f"{'concurrency':>11} {'images':>6} {'seconds':>8} {'img/s':>7} {'ideal':>6} {'ratio':>6}")
        for concurrency in args.concurrency:
            n = args.serial_images if concurrency == 1 else args.images
            done, seconds = measure(items[:n], concurrency, args.delay)
            rate = done / seconds
            ideal = concurrency / args.delay
            print(
                f"{concurrency:>11} {done:>6} {seconds:>8.2f} {rate:>7.2f} {ideal:>6.1f}"
                f" {rate / ideal:>6.1%}"
            )


if __name__ == "__main__":
    main()
