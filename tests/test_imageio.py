"""open_image: every format, orientation, transparency and every way a file can be unusable."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from semclust.core.imageio import (
    ImageReadError,
    downscale,
    jpeg_data_url,
    open_image,
    thumbnail_data_url,
)

FORMATS = [
    ("a.jpg", "JPEG"),
    ("a.png", "PNG"),
    ("a.webp", "WEBP"),
    ("a.gif", "GIF"),
    ("a.bmp", "BMP"),
    ("a.tiff", "TIFF"),
]


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``: a decompression bomb's disguise."""
    buf = io.BytesIO()
    Image.new("1", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    # signature (8) | IHDR length (4) | b"IHDR" (4) | width, height (8) ... | CRC at 29..33
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize(("name", "fmt"), FORMATS)
def test_every_supported_format_opens_as_rgb(tmp_path, make_image, name, fmt):
    path = make_image(tmp_path / name, size=(40, 30))
    with Image.open(path) as raw:
        assert raw.format == fmt
    img = open_image(path)
    assert img.mode == "RGB"
    assert img.size == (40, 30)


def test_animated_gif_gives_its_first_frame(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (20, 20), c) for c in colours]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    assert open_image(path).getpixel((10, 10)) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 20, 20))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)

    upright = open_image(path)
    assert upright.size == (20, 40)
    # rotating clockwise moves the left half to the top
    assert np.asarray(upright)[5, 10].min() > 200
    assert np.asarray(upright)[35, 10].max() < 50


def test_rgba_transparency_is_flattened_on_white(tmp_path):
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # fully transparent black
    img.putpixel((0, 0), (255, 0, 0, 255))
    path = tmp_path / "sticker.png"
    img.save(path)
    rgb = open_image(path)
    assert rgb.getpixel((5, 5)) == (255, 255, 255)
    assert rgb.getpixel((0, 0)) == (255, 0, 0)


def test_palette_transparency_is_flattened_on_white(tmp_path):
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 black, index 1 blue
    img.putpixel((0, 0), 1)
    path = tmp_path / "palette.png"
    img.save(path, transparency=0)
    rgb = open_image(path)
    assert rgb.getpixel((5, 5)) == (255, 255, 255)
    assert rgb.getpixel((0, 0)) == (0, 0, 255)


def test_rgb_png_with_transparent_colour_is_flattened_on_white(tmp_path):
    img = Image.new("RGB", (10, 10), (0, 0, 0))
    path = tmp_path / "trns.png"
    img.save(path, transparency=(0, 0, 0))  # tRNS chunk: black means transparent
    assert open_image(path).getpixel((5, 5)) == (255, 255, 255)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _truncated_jpeg(tmp_path, make_image):
    data = make_image(tmp_path / "whole.jpg", size=(200, 150)).read_bytes()
    return data[: len(data) // 2]


def _corrupt_body_png(tmp_path, make_image):
    data = bytearray(make_image(tmp_path / "whole.png", size=(50, 50)).read_bytes())
    data[data.find(b"IDAT") + 6] ^= 0xFF  # a valid header over a broken compressed stream
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "content", "word"),
    [
        ("empty.jpg", lambda tmp, mk: b"", "empty"),
        ("random.jpg", lambda tmp, mk: np.random.default_rng(1).bytes(4096), "not an image"),
        ("text.png", lambda tmp, mk: b"this is a caption, not a picture\n" * 20, "not an image"),
        ("half.jpg", _truncated_jpeg, "truncated"),
        ("garbled.png", _corrupt_body_png, "corrupt"),
        ("bomb.png", lambda tmp, mk: png_declaring(20_000, 20_000), "too large"),
    ],
)
def test_unusable_files_raise_image_read_error_with_reason(
    tmp_path, make_image, name, content, word
):
    path = _write(tmp_path / name, content(tmp_path, make_image))
    with pytest.raises(ImageReadError) as info:
        open_image(path)
    assert word in str(info.value).lower()
    assert thumbnail_data_url(path) is None


def test_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="cannot read file"):
        open_image(tmp_path / "nowhere.jpg")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bomb_between_pillow_warning_and_error_limits_is_refused(tmp_path):
    # 10000 x 10000 = 1e8 pixels: above the default limit, below Pillow's hard error (2x)
    path = _write(tmp_path / "bomb.png", png_declaring(10_000, 10_000))
    with pytest.raises(ImageReadError, match="too large"):
        open_image(path)


def test_max_pixels_is_the_callers_limit(tmp_path, make_image):
    path = make_image(tmp_path / "a.png", size=(100, 100))
    with pytest.raises(ImageReadError, match="too large: 100x100"):
        open_image(path, max_pixels=9_999)
    assert open_image(path, max_pixels=10_000).size == (100, 100)


def test_downscale_keeps_aspect_and_never_enlarges():
    img = Image.new("RGB", (400, 100))
    assert downscale(img, 200).size == (200, 50)
    assert downscale(img, 1000) is img
    assert downscale(img, None) is img
    assert img.size == (400, 100)  # the original is untouched


def test_data_urls_decode_back_to_jpeg(tmp_path, make_image):
    url = jpeg_data_url(Image.new("RGB", (8, 8), (10, 200, 30)))
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :]))) as img:
        assert img.format == "JPEG" and img.size == (8, 8)

    thumb = thumbnail_data_url(make_image(tmp_path / "big.png", size=(640, 320)), max_side=160)
    with Image.open(io.BytesIO(base64.b64decode(thumb[len(prefix) :]))) as img:
        assert img.size == (160, 80)
