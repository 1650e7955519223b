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

The two are measured alternately (``--repeat`` times, best of each), so that a change in
the load of a shared machine hits both.

Second part (``--batch-images``, default 10,000): the OpenAI batch path against the local
Files/Batches server with the provider's per-file limits, killed mid-poll and rerun: how
many files are uploaded and batches created, and how many are resubmitted after the kill.

Run: ``nice python benchmarks/bench_describe.py`` (a few minutes).
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
from semclust.stages.describe import PRESETS, create_describer, describe_images  # noqa: E402
from semclust.stages.describe.prepare import prepare_image  # noqa: E402


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
        most = max(args.images, args.rounds * max(args.concurrency))
        items = write_images(Path(folder), most, size=tuple(args.size), suffix=".jpg")
        started = time.process_time()
        bodies = ready_bodies(items[:100])
        cpu = (time.process_time() - started) / 100  # CPU seconds per image, whatever the load
        bodies += ready_bodies(items[100:])
        width, height = args.size
        print(f"fake server: {args.delay:g} s per request; {width}x{height} JPEGs, "
              f"sent at <= 512 px; {os.cpu_count()} CPU cores shared with the server")
        print(f"preparing one image (decode, downscale, JPEG, base64, JSON) takes {cpu * 1000:.1f} ms "
              f"of CPU: {64 * cpu:.2f} cores at 64 images/s")
        print(f"{'C':>3} {'images':>6} {'ideal/s':>8} {'bare/s':>7} {'semclust/s':>10}"
              f" {'vs ideal':>8} {'vs bare':>7} {'bare vs ideal':>13}")
        for concurrency in args.concurrency:
            n = args.serial_images if concurrency == 1 else max(args.images, args.rounds * concurrency)
            bound = n / (math.ceil(n / concurrency) * args.delay)  # the last round is partly full
            bare = ours = 0.0
            for _ in range(args.repeat):  # alternate, so that a change in machine load hits both
                done, seconds = measure_bare(bodies[:n], concurrency, base_url)
                bare = max(bare, done / seconds)
                done, seconds = measure_semclust(items[:n], concurrency, base_url)
                ours = max(ours, done / seconds)
            print(f"{concurrency:>3} {n:>6} {bound:>8.1f} {bare:>7.2f} {ours:>10.2f}"
                  f" {ours / bound:>8.1%} {ours / bare:>7.1%} {bare / bound:>13.1%}")


def batch_requests(n_images: int, max_bytes: int) -> None:
    """Submit ``n_images`` through the batch path, kill it while polling, rerun: count requests."""
    from fake_batch_server import FakeBatchServer
    from semclust.core.store import StudyStore
    from semclust.core.store.batches import StudyBatchLedger
    from semclust.stages.describe.batch import BatchLimits, BatchPolling, adescribe_in_batches
    from semclust.stages.describe.runner import description_key

    prompt = PRESETS["connotative"]
    polling = BatchPolling(first=0.05, longest=0.2)
    limits = BatchLimits(max_bytes=max_bytes)
    with tempfile.TemporaryDirectory() as folder, FakeBatchServer(max_bytes=max_bytes) as server:
        items = write_images(Path(folder) / "img", n_images, size=(48, 32))
        store = StudyStore(Path(folder) / "study")
        describer = create_describer("openai:gpt-4o-mini", base_url=server.openai_base_url)
        key = description_key("", describer, prompt, 512)
        ledger = StudyBatchLedger(store, key.describer, key.model, key.prompt_hash, key.params_hash)

        async def submit_then_kill() -> None:
            task = asyncio.create_task(adescribe_in_batches(
                items, describer, prompt, store, ledger, limits=limits, polling=polling, progress=False))
            while not server.calls["retrieve"] and not task.done():
                await asyncio.sleep(0.05)  # polling has started: everything is submitted
            task.cancel()  # the kill
            await asyncio.gather(task, return_exceptions=True)

        server.hold = True
        started = time.perf_counter()
        asyncio.run(submit_then_kill())
        submitted = dict(server.calls)
        sizes = [len(f) for f in server.files.values()]
        server.hold = False
        summary = asyncio.run(adescribe_in_batches(items, describer, prompt, store, ledger,
                                                   limits=limits, polling=polling, progress=False))
        seconds = time.perf_counter() - started
        store.close()
    files = -(-sum(sizes) // max_bytes)
    print(f"\nbatch path: {n_images:,} images (48x32 px), file limit {max_bytes / 1e6:g} MB "
          f"and 50,000 requests; killed while polling, then rerun")
    print(f"  before the kill: {submitted.get('upload', 0)} uploads, {submitted.get('create', 0)} batches "
          f"created ({sum(sizes) / 1e6:.1f} MB of JSONL; at least {files} files needed), "
          f"largest file {max(sizes) / 1e6:.2f} MB")
    print(f"  after the rerun: {server.calls['upload'] - submitted.get('upload', 0)} new uploads, "
          f"{server.calls['create'] - submitted.get('create', 0)} resubmitted batches; "
          f"{summary.ok:,} described; requests in all: {dict(server.calls)}; {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--serial-images", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2,
                        help="measure bare and semclust alternately this many times; best of each")
    parser.add_argument("--rounds", type=int, default=10,
                        help="at least this many rounds of C requests (startup is a one-off)")
    parser.add_argument("--delay", type=float, default=1.0, help="server seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    parser.add_argument("--batch-images", type=int, default=10_000,
                        help="images for the batch-path request count (0: skip)")
    parser.add_argument("--batch-max-mb", type=float, default=2.0,
                        help="batch file byte limit in MB (OpenAI: 200; scaled down with the tiny images)")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)  # a local server needs no key
    if not args.skip_throughput:
        throughput(args)
    if args.batch_images:
        batch_requests(args.batch_images, int(args.batch_max_mb * 1e6))


if __name__ == "__main__":
    main()
