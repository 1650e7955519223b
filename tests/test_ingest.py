"""Ingest: folders and tables in, items with hashes (or the reason they are unusable) out."""

from __future__ import annotations

import importlib
import io
import itertools
import shutil
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from semclust.core.errors import SemclustError
from semclust.stages.ingest import near_duplicate_pairs, read_input
from semclust.study.workspace import DescriptionSource

ingest_module = importlib.import_module("semclust.stages.ingest")

QUIET = {"progress": False, "workers": 2}


def _status(study) -> dict[str, tuple[str, str | None]]:
    items = study.items()
    errors = [None if pd.isna(e) else e for e in items["error"]]
    return dict(zip(items["id"], zip(items["status"], errors, strict=True), strict=True))


def _bomb_png() -> bytes:
    """A 1x1 PNG whose header claims 20000 x 20000 pixels."""
    buf = io.BytesIO()
    Image.new("1", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", 20_000, 20_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# --- formats ------------------------------------------------------------------


def test_every_format_is_ingested_with_its_size_and_format(tmp_path, make_image, tmp_study):
    folder = tmp_path / "in"
    for seed, name in enumerate(["a.jpg", "b.png", "c.webp", "d.bmp", "e.tif"]):
        make_image(folder / name, size=(64, 48), seed=seed)
    frames = [Image.new("RGB", (30, 20), c) for c in [(250, 0, 0), (0, 250, 0)]]
    frames[0].save(folder / "f.gif", save_all=True, append_images=frames[1:], duration=40)
    rotated = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(folder / "g.jpeg", exif=exif)

    summary = tmp_study.ingest(folder, **QUIET)

    assert (summary.n_items, summary.n_ok, summary.n_errors) == (7, 7, 0)
    items = tmp_study.items().set_index("id")
    images = tmp_study.store.images_frame().set_index("sha256")
    found = images.loc[items["sha256"]].set_axis(items.index)
    assert found["format"].to_dict() == {
        "a.jpg": "JPEG", "b.png": "PNG", "c.webp": "WEBP", "d.bmp": "BMP",
        "e.tif": "TIFF", "f.gif": "GIF", "g.jpeg": "JPEG",
    }  # fmt: skip
    assert tuple(found.loc["a.jpg", ["width", "height"]]) == (64, 48)
    assert tuple(found.loc["f.gif", ["width", "height"]]) == (30, 20)
    assert tuple(found.loc["g.jpeg", ["width", "height"]]) == (20, 40)  # EXIF rotation applied
    assert all(len(h) == 16 for h in images["phash"])


# --- unusable files -----------------------------------------------------------


def test_unusable_files_are_recorded_and_ingest_goes_on(tmp_path, make_image, tmp_study):
    folder = tmp_path / "in"
    make_image(folder / "good.jpg")
    whole = make_image(tmp_path / "whole.jpg", size=(200, 150)).read_bytes()
    (folder / "half.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "random.jpg").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "zero.png").write_bytes(b"")
    (folder / "caption.png").write_text("not a picture at all\n")
    (folder / "bomb.png").write_bytes(_bomb_png())

    summary = tmp_study.ingest(folder, **QUIET)

    status = _status(tmp_study)
    assert status["good.jpg"] == ("ok", None)
    expected_words = {
        "half.jpg": "truncated",
        "random.jpg": "not an image",
        "zero.png": "empty",
        "caption.png": "not an image",
        "bomb.png": "too large",
    }
    for item_id, word in expected_words.items():
        state, reason = status[item_id]
        assert state == "error", item_id
        assert word in reason.lower(), (item_id, reason)
    assert (summary.n_ok, summary.n_errors) == (1, 5)
    assert dict(summary.errors) == {i: status[i][1] for i in expected_words}
    # the broken files are hashed (so a fixed copy is recognised) but have no image row
    items = tmp_study.items().set_index("id")
    assert items.loc["half.jpg", "sha256"] is not None
    assert set(tmp_study.store.images_frame()["sha256"]) == {items.loc["good.jpg", "sha256"]}


def test_max_pixels_of_the_call_is_applied(tmp_path, make_image, tmp_study):
    make_image(tmp_path / "in" / "small.png", size=(20, 20))
    make_image(tmp_path / "in" / "big.png", size=(120, 100))
    tmp_study.ingest(tmp_path / "in", max_pixels=10_000, **QUIET)
    status = _status(tmp_study)
    assert status["small.png"] == ("ok", None)
    assert status["big.png"][0] == "error" and "too large" in status["big.png"][1]


# --- duplicates ---------------------------------------------------------------


def test_exact_duplicates_share_one_hash(tmp_path, make_image, tmp_study):
    folder = tmp_path / "in"
    original = make_image(folder / "a.jpg", seed=1)
    shutil.copy(original, folder / "copy1.jpg")
    (folder / "sub").mkdir()
    shutil.copy(original, folder / "sub" / "copy2.jpg")
    make_image(folder / "other.jpg", seed=2)

    summary = tmp_study.ingest(folder, **QUIET)

    items = tmp_study.items().set_index("id")
    assert items.loc[["a.jpg", "copy1.jpg", "sub/copy2.jpg"], "sha256"].nunique() == 1
    assert items.loc["other.jpg", "sha256"] != items.loc["a.jpg", "sha256"]
    assert (summary.n_unique_images, summary.n_exact_duplicates) == (2, 2)
    assert len(tmp_study.store.images_frame()) == 2
    assert summary.near_duplicates == []  # an exact copy is not reported again as "near"


def test_near_duplicates_are_reported_and_different_pictures_are_not(
    tmp_path, make_image, tmp_study
):
    folder = tmp_path / "in"
    make_image(folder / "cat.jpg", seed=1, quality=95)
    make_image(folder / "cat_low.jpg", seed=1, quality=40)
    make_image(folder / "cat_small.jpg", size=(120, 90), seed=1, quality=95)
    for seed in (2, 3, 4):
        make_image(folder / f"other{seed}.jpg", seed=seed, quality=95)

    summary = tmp_study.ingest(folder, near_duplicate_bits=4, **QUIET)

    assert summary.n_exact_duplicates == 0
    pairs = {frozenset(p[:2]) for p in summary.near_duplicates}
    cats = ["cat.jpg", "cat_low.jpg", "cat_small.jpg"]
    assert pairs == {frozenset(p) for p in itertools.combinations(cats, 2)}
    assert all(0 <= bits <= 4 for *_, bits in summary.near_duplicates)


def _brute_force_pairs(keys, hashes, max_bits):
    values = [int(h, 16) for h in hashes]
    return sorted(
        (keys[i], keys[j], (values[i] ^ values[j]).bit_count())
        for i, j in itertools.combinations(range(len(values)), 2)
        if (values[i] ^ values[j]).bit_count() <= max_bits
    )


@pytest.mark.parametrize("max_bits", [0, 1, 3, 4, 6, 10])
def test_near_duplicate_pairs_equals_brute_force(max_bits):
    rng = np.random.default_rng(max_bits)
    values = [
        int(v)
        for v in rng.integers(0, 2**63, size=300, dtype=np.int64) * 2 + rng.integers(0, 2, 300)
    ]
    for base in range(0, 60, 3):  # plant neighbours 0..12 bits away, anywhere in the 64 bits
        flips = rng.choice(64, size=int(rng.integers(0, 13)), replace=False)
        values.append(values[base] ^ sum(1 << int(b) for b in flips))
    values += [0, 1, 2**63, 2**64 - 1]  # small values need leading zeros in the hex form
    hashes = [f"{v:016x}" for v in values]
    keys = [f"k{i:03d}" for i in range(len(values))]

    expected = _brute_force_pairs(keys, hashes, max_bits)
    assert near_duplicate_pairs(keys, hashes, max_bits) == expected
    if max_bits >= 1:
        assert expected  # the planted pairs make the comparison meaningful


def test_near_duplicate_pairs_of_nothing():
    assert near_duplicate_pairs([], [], 4) == []
    assert near_duplicate_pairs(["a"], ["ffffffffffffffff"], 4) == []


# --- tables -------------------------------------------------------------------


@pytest.fixture
def table_input(tmp_path, make_image):
    """A CSV in data/ pointing at a relative image, an absolute one and a missing one."""
    data = tmp_path / "data"
    make_image(data / "img" / "one.png", seed=1)
    elsewhere = make_image(tmp_path / "elsewhere" / "two.jpg", seed=2)
    rows = pd.DataFrame(
        {
            "id": ["p1", "p2", "p3"],
            "image": ["img/one.png", str(elsewhere), "img/missing.jpg"],
            "post text": ["sunset at the beach", "", "lost"],
            "likes": ["3", "10", "0"],
        }
    )
    return data, rows, elsewhere


def test_csv_paths_columns_and_missing_files(table_input, tmp_study):
    data, rows, elsewhere = table_input
    rows.to_csv(data / "posts.csv", index=False)

    summary = tmp_study.ingest(data / "posts.csv", **QUIET)

    items = tmp_study.items().set_index("id")
    assert items.loc["p1", "image"] == str((data / "img" / "one.png").resolve())
    assert items.loc["p2", "image"] == str(elsewhere.resolve())
    assert items["post text"].tolist() == ["sunset at the beach", "", "lost"]
    assert items["likes"].tolist() == ["3", "10", "0"]
    assert items.loc["p3", "status"] == "error"
    assert "cannot read file" in items.loc["p3", "error"]
    assert (summary.n_ok, summary.n_errors) == (2, 1)


def test_parquet_input_with_id_as_index(table_input, tmp_study):
    data, rows, _ = table_input
    rows["likes"] = [3, 10, 0]
    rows.set_index("id").to_parquet(data / "posts.parquet")

    tmp_study.ingest(data / "posts.parquet", **QUIET)

    items = tmp_study.items()
    assert items["id"].tolist() == ["p1", "p2", "p3"]
    assert items["likes"].tolist() == [3, 10, 0]
    assert items["status"].tolist() == ["ok", "ok", "error"]


def test_csv_with_byte_order_mark_and_without_id(tmp_path, make_image):
    make_image(tmp_path / "a.png")
    (tmp_path / "excel.csv").write_bytes("image,caption\na.png,hello\n".encode("utf-8-sig"))
    table = read_input(tmp_path / "excel.csv")
    assert table.columns.tolist() == ["id", "image", "caption"]
    assert table["id"].tolist() == ["row0"]


def test_a_table_without_an_image_column_is_items_without_images(tmp_path):
    (tmp_path / "in.csv").write_text("path,caption\na.png,x\n")
    table = read_input(tmp_path / "in.csv")
    assert table["image"].tolist() == [""] and table["path"].tolist() == ["a.png"]


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("id,image\nx,a.png\ny,b.png\nx,c.png\n", "id 'x' appears more than once (rows 2, 4)"),
        ("id,image\nx,a.png\ny,\n", "row 3 has an empty 'image' cell"),
        ("id,image\nx,a.png\ny,   \n", "row 3 has an empty 'image' cell"),
        ("id,image\n,a.png\n", "row 2 has an empty 'id' cell"),
        ("image,status\na.png,posted\n", "'status' is reserved"),
    ],
)
def test_bad_tables_name_the_problem(tmp_path, csv, message):
    (tmp_path / "in.csv").write_text(csv)
    with pytest.raises(SemclustError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_input(tmp_path / "in.csv")


def test_bad_parquet_rows_are_counted_from_the_first_data_row(tmp_path):
    table = pd.DataFrame(
        {"id": ["a", "b", "c"], "image": ["x.png", None, "y.png"]}, index=[7, 8, 9]
    )
    table.to_parquet(tmp_path / "in.parquet")
    with pytest.raises(SemclustError, match="row 3 has an empty 'image' cell"):
        read_input(tmp_path / "in.parquet")


def test_input_must_exist_and_be_a_known_kind(tmp_path):
    with pytest.raises(SemclustError, match="input not found"):
        read_input(tmp_path / "nope.csv")
    (tmp_path / "list.txt").write_text("a.png\n")
    with pytest.raises(SemclustError, match="folder of images, a .csv or a .parquet"):
        read_input(tmp_path / "list.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SemclustError, match="no image files"):
        read_input(tmp_path / "empty")


def test_folder_input_is_recursive_with_relative_posix_ids(tmp_path, make_image):
    make_image(tmp_path / "top.JPG", fmt="JPEG")
    make_image(tmp_path / "2024" / "march" / "deep.png")
    (tmp_path / "2024" / "notes.txt").write_text("not an image")
    table = read_input(tmp_path)
    assert table["id"].tolist() == ["2024/march/deep.png", "top.JPG"]
    assert table["image"].tolist() == [
        str((tmp_path / "2024" / "march" / "deep.png").resolve()),
        str((tmp_path / "top.JPG").resolve()),
    ]


# --- re-ingest ----------------------------------------------------------------


@pytest.fixture
def count_probes(monkeypatch):
    calls = []
    real = ingest_module.probe_file

    def counting(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "probe_file", counting)
    return calls


def test_reingest_reads_no_file_again_and_keeps_ids(tmp_path, make_image, tmp_study, count_probes):
    for seed in range(3):
        make_image(tmp_path / "in" / f"{seed}.png", seed=seed)
    first = tmp_study.ingest(tmp_path / "in", **QUIET)
    before = tmp_study.items()
    assert len(count_probes) == 3

    second = tmp_study.ingest(tmp_path / "in", **QUIET)

    assert len(count_probes) == 3  # nothing probed the second time
    pd.testing.assert_frame_equal(tmp_study.items(), before)
    assert (second.n_ok, second.n_unique_images) == (first.n_ok, first.n_unique_images)


def test_reingest_retries_files_that_failed(table_input, make_image, tmp_study, count_probes):
    data, rows, _ = table_input
    rows.to_csv(data / "posts.csv", index=False)
    tmp_study.ingest(data / "posts.csv", **QUIET)
    assert _status(tmp_study)["p3"][0] == "error"

    make_image(data / "img" / "missing.jpg", seed=3)  # the user adds the missing file
    tmp_study.ingest(data / "posts.csv", **QUIET)

    assert count_probes[3:] == [str((data / "img" / "missing.jpg").resolve())]
    assert _status(tmp_study)["p3"] == ("ok", None)


def test_the_same_file_twice_in_a_table_is_read_once(tmp_path, make_image, tmp_study, count_probes):
    make_image(tmp_path / "a.png")
    (tmp_path / "in.csv").write_text("id,image\nx,a.png\ny,a.png\n")
    summary = tmp_study.ingest(tmp_path / "in.csv", **QUIET)
    assert len(count_probes) == 1
    assert (summary.n_ok, summary.n_exact_duplicates) == (2, 1)


# --- descriptions from a column -----------------------------------------------


def test_column_descriptions_and_their_failures(tmp_path, make_image, tmp_study):
    for name in ("a", "b", "c"):
        make_image(tmp_path / f"{name}.png", seed=ord(name))
    (tmp_path / "broken.png").write_bytes(b"")
    (tmp_path / "in.csv").write_text(
        "id,image,caption\n"
        "a,a.png,  a red car \n"
        "b,b.png,\n"
        "c,c.png,   \n"
        "d,broken.png,has text but no image\n"
    )
    tmp_study.ingest(tmp_path / "in.csv", **QUIET)
    assert tmp_study.describe("column:caption") is None
    assert tmp_study.description_source() == DescriptionSource("column:caption")

    texts = tmp_study.descriptions()
    assert texts.index.tolist() == ["a", "b", "c", "d"]
    assert texts["a"] == "a red car"
    assert texts.isna().tolist() == [False, True, True, True]

    reasons = tmp_study.description_failures()
    assert reasons["b"] == reasons["c"] == "no description"
    assert reasons["d"].startswith("unreadable image:") and "empty" in reasons["d"]


def test_describe_from_an_unknown_column_is_refused(tmp_path, make_image, tmp_study):
    make_image(tmp_path / "a.png")
    (tmp_path / "in.csv").write_text("image,caption\na.png,x\n")
    tmp_study.ingest(tmp_path / "in.csv", **QUIET)
    with pytest.raises(SemclustError, match="no column 'text'"):
        tmp_study.describe("column:text")
