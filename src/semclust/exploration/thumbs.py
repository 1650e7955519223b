"""Thumbnails made once per distinct image and kept in the study (``STUDY/thumbs/``).

Keyed by the image's content hash and the size, so exact duplicates share one file and
a thumbnail is never made twice; WebP at a modest quality keeps each to a few KB. A
gallery asks only for what it shows, so a 20,000-item cluster costs what its first page
costs. Files are written to a temporary name and renamed, so two requests racing for the
same thumbnail never leave half a file.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from semclust.core.imageio import ImageReadError, downscale, open_image

#: Longest side of a gallery thumbnail in pixels (shown at up to half that on HiDPI screens).
THUMB_SIDE = 240
QUALITY = 70
FOLDER = "thumbs"


def thumbnail_path(study_folder: Path, sha256: str, side: int = THUMB_SIDE) -> Path:
    return Path(study_folder) / FOLDER / sha256[:2] / f"{sha256}-{side}.webp"


def thumbnail(study_folder: Path, sha256: str, image_path: str, side: int = THUMB_SIDE) -> bytes:
    """The WebP thumbnail of ``image_path`` (made and cached on first use).

    Raises
    ------
    ImageReadError
        When the image cannot be read.
    """
    cached = thumbnail_path(study_folder, sha256, side)
    try:
        return cached.read_bytes()
    except FileNotFoundError:
        pass
    data = encode(image_path, side)
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, cached)
    return data


def encode(image_path: str, side: int) -> bytes:
    image = downscale(open_image(image_path), side)
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=QUALITY, method=4)
    return buffer.getvalue()


def cache_size(study_folder: Path) -> tuple[int, int]:
    """(number of thumbnails, total bytes) in the study's cache."""
    files = list((Path(study_folder) / FOLDER).glob("*/*.webp"))
    return len(files), sum(f.stat().st_size for f in files)


__all__ = ["THUMB_SIDE", "ImageReadError", "cache_size", "thumbnail", "thumbnail_path"]
