"""Shared fixtures: small synthetic images written on the fly, and a throw-away study."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def picture(seed: int, size: tuple[int, int] = (128, 96)) -> Image.Image:
    """A smooth random RGB picture: different seeds give perceptually different images."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """``make_image(path, size=(128, 96), fmt=None, seed=0, **save_options) -> Path``.

    Writes ``picture(seed, size)`` to ``path`` (parent folders created); ``fmt`` defaults
    to the suffix's format.  JPEG/BMP cannot hold alpha, so RGB is saved as is.
    """

    def _make(path, size=(128, 96), fmt=None, seed=0, **save_options) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        picture(seed, size).save(path, format=fmt, **save_options)
        return path

    return _make


@pytest.fixture
def tmp_study(tmp_path):
    """An empty study folder, closed after the test."""
    from semclust.study.workspace import (
        Study,  # imported here so other test modules do not pay for it
    )

    study = Study(tmp_path / "study")
    yield study
    study.close()


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance with two worker CPUs for one test module; the ``ray`` module is yielded."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'semclust[ray]'")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # Ray gives a raylet 30 s to start; an overloaded machine can miss that
        pytest.skip(f"a local Ray instance could not start here: {exc}")
    yield ray
    ray.shutdown()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A test that reaches a backend whose optional extra is not installed is skipped with the
    install hint (e.g. the image routes after a CPU-only install without torchvision)."""
    from semclust.core.errors import MissingDependencyError

    outcome = yield
    error = outcome.excinfo[1] if outcome.excinfo else None
    if isinstance(error, MissingDependencyError):
        outcome.force_exception(pytest.skip.Exception(str(error), _use_item_location=True))
