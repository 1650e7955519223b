"""The generated demo corpus: files, rows, messy cases, determinism and clusterability."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_mutual_info_score

from semclust.core.errors import SemclustError
from semclust.core.imageio import ImageReadError, open_image
from semclust.study.demo_corpus import DEMO_THEMES, N_REPOSTS, make_demo_corpus

N_PER_THEME = 10
N_MESSY = N_REPOSTS + 3  # reposts, near-duplicate, corrupt, zero-byte


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    csv_path = make_demo_corpus(tmp_path_factory.mktemp("demo"), n_per_theme=N_PER_THEME, seed=0)
    return csv_path.parent, pd.read_csv(csv_path, keep_default_na=False)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def readable(corpus) -> pd.DataFrame:
    """The rows whose image opens, with the file's hash and a small copy of its pixels."""
    folder, posts = corpus
    keep = []
    for row in posts.itertuples():
        try:
            img = open_image(folder / row.image)
        except ImageReadError:
            continue
        small = np.asarray(img.resize((64, 64)), dtype=float)
        keep.append(
            {
                "image": row.image,
                "theme": row.theme,
                "sha": _sha(folder / row.image),
                "size": img.size,
                "small": small,
            }
        )
    return pd.DataFrame(keep)


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_csv_columns_and_row_count(corpus):
    folder, posts = corpus
    assert list(posts.columns) == ["id", "image", "text", "alt_text", "theme", "party", "created_at",
                                    "retweets"]
    assert len(posts) == len(DEMO_THEMES) * N_PER_THEME + N_MESSY
    assert posts["id"].is_unique and posts["image"].is_unique
    assert all(not Path(p).is_absolute() and p.startswith("images/") for p in posts["image"])
    assert set(posts["theme"]) == set(DEMO_THEMES)


def test_every_image_file_exists_and_two_are_unreadable(corpus, readable):
    folder, posts = corpus
    assert all((folder / p).is_file() for p in posts["image"])
    assert len(readable) == len(posts) - 2


def test_formats_match_extensions_and_vary(corpus, readable):
    folder, _ = corpus
    formats, sizes = Counter(), set()
    for name in readable["image"]:
        with Image.open(folder / name) as img:
            expected = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[Path(name).suffix]
            assert img.format == expected, name
            formats[img.format] += 1
            sizes.add(img.size)
            assert 240 <= min(img.size) and max(img.size) <= 640
    assert set(formats) == {"PNG", "JPEG", "WEBP"}
    assert len(sizes) >= 4


def test_original_images_per_theme(readable):
    """Distinct readable images: n per theme, plus the near-duplicate in one theme."""
    distinct = readable.drop_duplicates("sha")
    counts = sorted(distinct["theme"].value_counts().tolist())
    assert counts == [N_PER_THEME] * (len(DEMO_THEMES) - 1) + [N_PER_THEME + 1]


def test_reposts_are_byte_identical_copies(corpus):
    folder, posts = corpus
    by_hash = defaultdict(list)
    for row in posts.itertuples():
        if (folder / row.image).stat().st_size:
            by_hash[_sha(folder / row.image)].append(row)
    groups = [rows for rows in by_hash.values() if len(rows) > 1]
    assert len(groups) == N_REPOSTS
    for rows in groups:
        assert len(rows) == 2
        repost, original = sorted(rows, key=lambda r: not r.text.startswith("RT @"))
        assert repost.text.startswith("RT @") and repost.text.endswith(original.text)
        assert repost.image != original.image
        assert (repost.theme, repost.alt_text) == (original.theme, original.alt_text)


def test_one_near_duplicate(corpus, readable):
    """Exactly one pair of different files has (almost) the same pixels, and phash sees it."""
    folder, _ = corpus
    distinct = list(readable.drop_duplicates("sha").itertuples())
    near = [
        (a.image, b.image)
        for a, b in combinations(distinct, 2)
        if a.size == b.size and np.abs(a.small - b.small).mean() < 6
    ]
    assert len(near) == 1
    a, b = near[0]
    assert ".jpg" in {Path(a).suffix, Path(b).suffix}
    assert imagehash.phash(Image.open(folder / a)) - imagehash.phash(Image.open(folder / b)) <= 4


def test_corrupt_and_empty_rows(corpus, readable):
    folder, posts = corpus
    bad = posts[~posts["image"].isin(readable["image"])]
    sizes = sorted((folder / p).stat().st_size for p in bad["image"])
    assert sizes[0] == 0 and sizes[1] > 0
    assert (bad["alt_text"] == "").all()
    assert (bad["text"] != "").all() and bad["theme"].isin(DEMO_THEMES).all()
    assert (posts.drop(bad.index)["alt_text"] != "").all()


def test_texts_vary_and_include_unicode(corpus):
    _, posts = corpus
    assert posts["alt_text"].nunique() >= 0.9 * len(posts)
    assert posts["text"].nunique() >= 0.7 * len(posts)
    assert posts["text"].str.contains("#").any()
    assert posts["text"].map(lambda t: not t.isascii()).mean() > 0.2


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    first, again, other = (
        make_demo_corpus(tmp_path / name, n_per_theme=3, seed=seed).parent
        for name, seed in (("first", 0), ("again", 0), ("other", 1))
    )
    assert _tree_digest(again) == _tree_digest(first)
    assert _tree_digest(other) != _tree_digest(first)


def test_alt_text_clusters_by_theme(corpus):
    """TF-IDF + k-means recovers the themes from the descriptions (MiniLM does better)."""
    _, posts = corpus
    described = posts[posts["alt_text"] != ""]
    features = TfidfVectorizer(stop_words="english").fit_transform(described["alt_text"])
    labels = KMeans(len(DEMO_THEMES), n_init=10, random_state=0).fit_predict(features)
    assert adjusted_mutual_info_score(described["theme"], labels) >= 0.7


@pytest.mark.parametrize("bad", [0, 1, -3, 2.5, "10", True])
def test_rejects_bad_n_per_theme(tmp_path, bad):
    with pytest.raises(SemclustError, match=repr(bad).replace(".", r"\.")):
        make_demo_corpus(tmp_path, n_per_theme=bad)
