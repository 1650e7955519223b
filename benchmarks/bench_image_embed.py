"""Image-embedding throughput on this machine's CPU.

Embeds N decoded 224 x 224 images (random pixels) with each network in batches of 32,
after one warm-up batch, and prints images per second. Random weights give the same
speed as trained ones, so nothing needs downloading. Preprocessing (resize, crop,
normalise) is included, file decoding is not.

    python benchmarks/bench_image_embed.py [--images 64] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
from PIL import Image

from semclust.stages.image_embed import image_embedders

SPECS = ["cnn:resnet18", "cnn:resnet50", "cnn:vgg16", "cnn:xception", "clip:ViT-B-32"]


def images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (224, 224, 3), np.uint8)) for _ in range(n)]


def bench(spec: str, batch: list[Image.Image], batch_size: int) -> tuple[int, float, float]:
    """(dim, seconds to build, images per second)."""
    start = time.perf_counter()
    embedder = image_embedders.create(spec, weights="random", batch_size=batch_size)
    built = time.perf_counter() - start
    embedder.embed_images(batch[:batch_size])  # warm-up: allocator, oneDNN kernels
    start = time.perf_counter()
    vectors = embedder.embed_images(batch)
    elapsed = time.perf_counter() - start
    assert vectors.shape == (len(batch), embedder.dim)
    return embedder.dim, built, len(batch) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--specs", nargs="*", default=SPECS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # open_clip warns that random weights are random
    torch.set_num_threads(args.threads)
    batch = images(args.images)
    print(
        f"torch {torch.__version__}, {args.threads} threads, {args.images} images 224x224, "
        f"batch {args.batch_size}"
    )
    print(f"{'model':<16} {'dim':>5} {'build s':>8} {'images/s':>9}")
    for spec in args.specs:
        dim, built, rate = bench(spec, batch, args.batch_size)
        print(f"{spec:<16} {dim:>5} {built:>8.1f} {rate:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
