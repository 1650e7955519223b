"""Describe throughput against a local server that takes 1 s per request, and the batch path's requests.

A vision LLM is latency-bound, so the runner should reach close to ``concurrency``
images per second when each request takes 1 s. Three figures side by side, measured in
the same run against the same server process:

- ``ideal``: ``C / delay``;
- ``bare``: a bare httpx client sending ready-made requests (already encoded images,
  JSON already serialised) at the same concurrency: what this machine and the local
  server can carry at all, since the server shares the same CPU cores;
- ``semclust``: the describe runner from image files on disk (decode, downscale, JPEG
  encoding, HTTP, bookkeeping and the cache included).

Second part (``--batch-images``, default 10,000): the OpenAI batch path against the local
Files/Batches server with the provider's per-file limits, killed mid-poll and rerun: how
many files are uploaded and batches created, and how many are resubmitted after the kill.

Run: ``nice python benchmarks/bench_describe.py`` (about two minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from fake_llm_server import MemoryCache, write_images  # noqa: E402
from semclust.describe import PRESETS, create_describer, describe_images  # noqa: E402
from semclust.describe.prepare import prepare_image  # noqa: E402


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


def measure_semclust(items, concurrency: int, base_url: str) -> tuple[int, float]:
    """Describe ``items`` from scratch; returns (images described, seconds)."""
    describer = create_describer("openai:fake-vision-1", base_url=base_url + "/v1")
    summary = describe_images(
        items, describer, PRESETS["connotative"], MemoryCache(),
        concurrency=concurrency, progress=False,
    )
    assert summary.ok == len(items), summary
    return summary.ok, summary.elapsed


def measure_bare(bodies: list[bytes], concurrency: int, base_url: str) -> tuple[int, float]:
    """POST ready-made request bodies with ``concurrency`` httpx workers; (answers, seconds)."""

    async def go() -> int:
        queue = list(reversed(bodies))
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(timeout=None, limits=limits) as client:

            async def worker() -> int:
                done = 0
                while queue:
                    body = queue.pop()
                    response = await client.post(f"{base_url}/v1/chat/completions",
                                                 content=body, headers=headers)
                    response.raise_for_status()
                    done += 1
                return done

            return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))

    started = time.perf_counter()
    done = asyncio.run(go())
    return done, time.perf_counter() - started


def ready_bodies(items, max_side: int = 512) -> list[bytes]:
    describer = create_describer("openai:fake-vision-1", base_url="http://127.0.0.1/v1")
    return [json.dumps(describer.payload(prepare_image(path, max_side).data_url,
                                         PRESETS["connotative"])).encode()
            for _, path in items]


def throughput(args) -> None:
    with tempfile.TemporaryDirectory() as folder, fake_server(args.delay) as base_url:
        items = write_images(Path(folder), args.images, size=tuple(args.size), suffix=".jpg")
        bodies = ready_bodies(items)
        width, height = args.size
        print(f"fake server: {args.delay:g} s per request; {width}x{height} JPEGs, "
              f"sent at <= 512 px; {os.cpu_count()} CPU cores shared with the server")
        print(f"{'C':>3} {'images':>6} {'ideal/s':>8} {'bare/s':>7} {'semclust/s':>10}"
              f" {'vs ideal':>8} {'vs bare':>7} {'bare vs ideal':>13}")
        for concurrency in args.concurrency:
            n = args.serial_images if concurrency == 1 else args.images
            bound = n / (math.ceil(n / concurrency) * args.delay)  # the last round is partly full
            done, seconds = measure_bare(bodies[:n], concurrency, base_url)
            bare = done / seconds
            done, seconds = measure_semclust(items[:n], concurrency, base_url)
            ours = done / seconds
            print(f"{concurrency:>3} {n:>6} {bound:>8.1f} {bare:>7.2f} {ours:>10.2f}"
                  f" {ours / bound:>8.1%} {ours / bare:>7.1%} {bare / bound:>13.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--serial-images", type=int, default=10)
    parser.add_argument("--delay", type=float, default=1.0, help="server seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    parser.add_argument("--batch-images", type=int, default=10_000,
                        help="images for the batch-path request count (0: skip)")
    args = parser.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)  # a local server needs no key
    throughput(args)


if __name__ == "__main__":
    main()
