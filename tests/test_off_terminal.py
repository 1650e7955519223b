"""Issue 19: off a terminal (a log, a pipe, CI) no bar floods the output and help is not cut."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from semclust.core.progress import on_terminal


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("tty", "quiet", "flag", "expected"), [
    (True, "", True, True),
    (False, "", True, False),  # a log file: no redraws written as text
    (True, "1", True, False),  # SEMCLUST_QUIET wins
    (True, "", False, False),  # the caller asked for none (-q)
])
def test_third_party_bars_only_on_a_terminal(monkeypatch, tty, quiet, flag, expected):
    monkeypatch.setattr(sys, "stderr", _Stream(tty))
    monkeypatch.setenv("SEMCLUST_QUIET", quiet)
    assert on_terminal(flag) is expected


@pytest.mark.parametrize("tty", [True, False])
def test_sentence_transformers_bar_follows_the_terminal(monkeypatch, tty):
    from semclust.stages.embed.sentence_transformers_backend import SentenceTransformerEmbedder

    asked = {}

    class Model:
        def encode(self, texts, **options):
            asked.update(options)
            return np.ones((len(texts), 3))

    embedder = SentenceTransformerEmbedder(batch_size=2)
    embedder._model = Model()
    monkeypatch.setattr(sys, "stderr", _Stream(tty))
    monkeypatch.delenv("SEMCLUST_QUIET", raising=False)
    embedder.embed_texts(["a", "b", "c", "d", "e"])
    assert asked["show_progress_bar"] is tty


def test_help_is_not_cut_when_stdout_is_a_pipe():
    env = {k: v for k, v in os.environ.items() if k not in ("TERMINAL_WIDTH", "COLUMNS")}
    done = subprocess.run([sys.executable, "-m", "semclust.cli.main", "run", "--help"], capture_output=True,
                          text=True, env=env, check=True)
    assert "st:all-MiniLM-L6-v2" in done.stdout  # cut to "st:all-MiniLM-L6-v…" at 80 columns
    assert "…" not in done.stdout
