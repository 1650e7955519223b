"""Image preparation for describers: draft-mode JPEG decoding and the prefetching thread pool."""

from __future__ import annotations

import asyncio
import io
from collections import deque

import numpy as np
from PIL import Image

from semclust.core.imageio import ImageReadError, open_image
from semclust.stages.describe.prepare import Prefetcher, PreparedImage, prepare_image


def test_jpeg_draft_decodes_at_the_largest_power_of_two_scale_that_keeps_max_side(make_image, tmp_path):
    path = make_image(tmp_path / "big.jpg", size=(2048, 1536))
    assert open_image(path).size == (2048, 1536)
    # 1/2 keeps both sides >= 512 (1024x768); 1/4 would not (512x384 has a side < 512)
    assert open_image(path, draft_side=512).size == (1024, 768)
    assert open_image(path, draft_side=200).size == (512, 384)  # 1/8 would give 192 < 200
    assert open_image(path, draft_side=150).size == (256, 192)  # 1/8


def test_draft_is_ignored_for_formats_without_it(make_image, tmp_path):
    path = make_image(tmp_path / "big.png", size=(2048, 1536))
    assert open_image(path, draft_side=512).size == (2048, 1536)


def test_prepared_image_is_a_downscaled_jpeg_with_the_same_picture(make_image, tmp_path):
    path = make_image(tmp_path / "big.jpg", size=(2048, 1536), seed=3)
    prepared = prepare_image(path, 512)
    assert (prepared.width, prepared.height) == (512, 384)
    decoded = Image.open(io.BytesIO(prepared.jpeg))
    assert decoded.format == "JPEG" and decoded.size == (512, 384)
    reference = open_image(path).resize((512, 384), Image.Resampling.BICUBIC)
    diff = np.abs(np.asarray(prepared.to_pil(), float) - np.asarray(reference, float))
    assert diff.mean() < 6  # same picture, up to JPEG and filter differences
    assert prepared.data_url.startswith("data:image/jpeg;base64,")


def test_small_images_are_not_enlarged(make_image, tmp_path):
    prepared = prepare_image(make_image(tmp_path / "s.png", size=(100, 80)), 512)
    assert (prepared.width, prepared.height) == (100, 80)
    assert PreparedImage.from_pil(prepared.to_pil()).width == 100


def test_prefetcher_yields_every_item_once_with_errors_in_place(make_image, tmp_path):
    paths = [str(make_image(tmp_path / f"{i}.jpg", seed=i)) for i in range(9)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    items = deque([(f"k{i}", p) for i, p in enumerate(paths)] + [("bad", str(broken))])

    async def collect(consumers: int):
        async with Prefetcher(items, 64, depth=2, threads=3) as ahead:

            async def consume():
                got = []
                while (item := await ahead.get()) is not None:
                    got.append(item)
                return got

            return [x for part in await asyncio.gather(*(consume() for _ in range(consumers))) for x in part]

    got = asyncio.run(collect(4))
    assert sorted(key for key, _, _ in got) == sorted([f"k{i}" for i in range(9)] + ["bad"])
    by_key = {key: image for key, _, image in got}
    assert isinstance(by_key["bad"], ImageReadError)
    assert all(isinstance(by_key[f"k{i}"], PreparedImage) for i in range(9))
    assert max(by_key["k0"].width, by_key["k0"].height) == 64
