"""Opening untrusted image files safely, and the two re-encodings the tool needs.

Every image the tool touches goes through :func:`open_image`, so EXIF orientation,
animated formats (first frame), palette/alpha modes and decompression bombs are
handled in one place.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, ImageOps

from semclust.core.errors import SemclustError

#: Images with more pixels than this are refused (Pillow's own bomb guard is 2x this).
DEFAULT_MAX_PIXELS = 89_478_485


class ImageReadError(SemclustError, ValueError):
    """The file is not a readable image; the message is the reason recorded in the study."""


def open_image(
    path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, draft_side: int | None = None
) -> Image.Image:
    """Decode ``path`` into an upright RGB image, or raise :class:`ImageReadError`.

    ``draft_side`` lets a JPEG decode at a reduced scale (1/2, 1/4, 1/8) that still keeps
    both sides at least ``draft_side`` pixels: much faster when the image is downscaled next.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise ImageReadError("empty file (0 bytes)")
    try:
        # The size check below refuses bombs before decoding; Pillow's own guard (which
        # raises at 2x its limit) stays as a backstop.  No warnings.catch_warnings here:
        # it edits process-wide state and is not thread-safe, and ingest decodes in threads.
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise ImageReadError(
                    f"image too large: {img.width}x{img.height} pixels "
                    f"exceeds the limit of {max_pixels} (possible decompression bomb)"
                )
            img.seek(0)  # first frame of GIF/WebP/TIFF animations
            if draft_side and img.format == "JPEG":
                img.draft("RGB", (draft_side, draft_side))
            img.load()
            upright = ImageOps.exif_transpose(img)
            return _to_rgb(upright)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"image too large (possible decompression bomb): {exc}") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageReadError("not an image file (format not recognised)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(f"corrupt or truncated image: {exc}") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten alpha onto white so transparent PNG stickers do not turn black."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def downscale(img: Image.Image, max_side: int | None) -> Image.Image:
    """Shrink so the longest side is at most ``max_side`` (never enlarges)."""
    if not max_side or max(img.size) <= max_side:
        return img
    out = img.copy()
    out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return out


def jpeg_bytes(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def jpeg_data_url(img: Image.Image, quality: int = 85) -> str:
    """``data:image/jpeg;base64,...`` for APIs and for self-contained HTML pages."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes(img, quality)).decode("ascii")


def thumbnail_data_url(path: str | Path, max_side: int = 160) -> str | None:
    """A small inline thumbnail for reports; ``None`` when the file cannot be read."""
    try:
        return jpeg_data_url(downscale(open_image(path), max_side), quality=80)
    except ImageReadError:
        return None
