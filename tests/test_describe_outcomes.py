"""Nothing a user paid for is lost or dropped in silence (issue 8, parts 8-11).

Refusals only when the whole answer is one, truncated answers marked, finish reason /
served model / attempts stored, a describe step where everything failed exits non-zero,
and Ctrl-C stores the answers in flight (a real SIGINT, a real SQLite store, requests
counted on the server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fake_llm_server import FakeLLMServer, Reply, openai_body, write_images
from semclust.cli import app
from semclust.core.store import StudyStore
from semclust.stages.describe import PRESETS, create_describer, describe_images
from semclust.stages.describe.refusal import detect_refusal

PROMPT = PRESETS["connotative"]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A fake server, an ``openai:`` describer pointed at it, four images and a study store."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeLLMServer() as server:
        describer = create_describer("openai:fake-vision-1", base_url=server.openai_base_url)
        store = StudyStore(tmp_path / "study")
        yield server, describer, write_images(tmp_path / "img", 4, size=(64, 48)), store
        store.close()


def describe(items, describer, store, **kwargs):
    return describe_images(items, describer, PROMPT, store, progress=False, base_delay=0.001, **kwargs)


# --- part 8: refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # the two descriptions, flagged by the old opening-only heuristic
        "Unfortunately, we cannot ignore the melting ice, the image warns.",
        "I cannot see a future without action, the sign says.",
        # a refusal that goes on to describe is a (partial) description
        "Sorry, I cannot identify people in images. However, the photo shows a crowd at a rally.",
        "I'm unable to identify the people, but I can describe the scene: a crowd holds signs.",
        "The image conveys hope. I cannot describe this image further.",
    ],
)
def test_descriptions_that_contain_refusal_words_are_not_refusals(text):
    assert detect_refusal(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't assist with that.",
        "I can\u2019t assist with that request. Let me know if there is anything else I can help with.",
        "As an AI language model, I am unable to view images. If you describe it, I'd be happy to help!",
        "I'm sorry, I can't help with identifying people in images, but if you have other questions let me know.",
    ],
)
def test_whole_answer_refusals_are_caught(text):
    assert detect_refusal(text).startswith("model declined: ")


def test_refused_text_is_kept_and_retry_refused_asks_again(world):
    server, describer, images, store = world
    refusal = "I'm sorry, but I can't assist with that."
    server.queue(Reply(body=openai_body(refusal)))
    first = describe(images[:1], describer, store)
    assert (first.refused, first.ok) == (1, 0)
    (record,) = _records(store).values()
    assert record["status"] == "refused" and record["text"] == refusal  # the paid-for text is kept
    assert describe(images[:1], describer, store).cached == 1 and len(server.requests) == 1
    again = describe(images[:1], describer, store, retry_refused=True)
    assert (again.requested, again.ok, len(server.requests)) == (1, 1, 2)
    assert next(iter(_records(store).values()))["status"] == "ok"


def _records(store: StudyStore) -> dict:
    rows = store._execute("SELECT * FROM descriptions").fetchall()
    return {(r["sha256"], r["params_hash"]): r for r in rows}


# --- part 9: finish reason, served model, attempts, truncation --------------------------


def test_truncated_answers_are_marked_counted_and_retried_on_request(world):
    server, describer, images, store = world
    server.queue(
        Reply(500, {"error": {"message": "overloaded"}}),
        Reply(body=openai_body("A crowd gathers under grey skies while the", finish_reason="length")),
    )
    summary = describe(images[:2], describer, store, concurrency=1)
    assert (summary.ok, summary.truncated) == (2, 1)
    rows = sorted(_records(store).values(), key=lambda r: r["finish_reason"])
    assert [r["finish_reason"] for r in rows] == ["length", "stop"]
    assert {r["served_model"] for r in rows} == {"fake-vision-1"}
    assert sorted(r["attempts"] for r in rows) == [1, 2]  # the 500 was retried once
    assert describe(images[:2], describer, store).cached == 2  # kept unless asked
    retried = describe(images[:2], describer, store, retry_truncated=True)
    assert (retried.requested, retried.ok, retried.truncated) == (1, 1, 0)
    assert {r["finish_reason"] for r in _records(store).values()} == {"stop"}


def test_max_tokens_is_sent_and_part_of_the_key(world, tmp_path):
    server, _, images, _ = world
    study = tmp_path / "study"
    CliRunner().invoke(app, ["ingest", str(images[0][1]).rsplit("/", 1)[0], "--study", str(study), "-q"])
    args = ["describe", "--study", str(study), "--describer", "openai:m", "--base-url",
            server.openai_base_url, "-q", "--max-tokens", "77"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {r.json["max_tokens"] for r in server.requests} == {77}


# --- part 11: a describe step where everything failed -----------------------------------


def test_describe_where_every_request_failed_exits_non_zero_with_reasons(world, tmp_path):
    server, _, images, _ = world
    server.queue(*[Reply(400, {"error": {"message": "image too small"}})] * 4)
    folder = str(Path(images[0][1]).parent)
    study = tmp_path / "study2"
    args = [folder, "--out", str(study), "--describer", "openai:m", "--base-url", server.openai_base_url,
            "--embedder", "tfidf:5", "--reducer", "none", "--clusterer", "kmeans:2", "--map", "none", "-q"]
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 1
    assert "none of the 4 images" in result.output
    assert "4 × failed: HTTP 400: image too small" in result.output
    assert "semclust describe' first" not in result.output


# --- part 10: Ctrl-C --------------------------------------------------------------------


def _describe_process(study: Path, base_url: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "SEMCLUST_QUIET": "1"}
    env.pop("OPENAI_API_KEY", None)
    command = [sys.executable, "-m", "semclust.cli.main", "describe", "--study", str(study),
               "--describer", "openai:m", "--base-url", base_url, "--concurrency", "4", "-q", *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _ingested(tmp_path: Path, n: int) -> Path:
    study = tmp_path / "study"
    write_images(tmp_path / "img", n, size=(64, 48))
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "img"), "--study", str(study), "-q"])
    assert result.exit_code == 0, result.output
    return study


def test_first_ctrl_c_stores_every_answer_in_flight_then_rerun_sends_only_the_rest(tmp_path):
    study = _ingested(tmp_path, 12)
    with FakeLLMServer(delay=1.0) as server:
        process = _describe_process(study, server.openai_base_url)
        _wait_for(lambda: len(server.requests) >= 4)  # four answers in flight, paid for
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        sent = len(server.requests)
        store = StudyStore(study)
        stored = len(_records(store))
        assert process.returncode == 130, output
        assert sent == 4 and stored == 4  # nothing sent after Ctrl-C, nothing sent was lost
        assert "stopped: 4 stored, 8 left; run the same command to continue" in output
        rerun = _describe_process(study, server.openai_base_url)
        output, _ = rerun.communicate(timeout=60)
        assert rerun.returncode == 0, output
        assert len(server.requests) == 12  # the 8 left, none of the 4 stored asked again
        assert len(_records(store)) == 12


def test_second_ctrl_c_quits_at_once(tmp_path):
    study = _ingested(tmp_path, 4)
    with FakeLLMServer(delay=20.0) as server:
        process = _describe_process(study, server.openai_base_url)
        _wait_for(lambda: len(server.requests) >= 4)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
        assert time.monotonic() - started < 10  # did not wait for the 20 s answers
        assert process.returncode == 130, output
        assert "quit at once: 0 stored, 4 left" in output
        assert _records(StudyStore(study)) == {}


# --- part 8/9: the run's summary and assignments.csv name what was left out -------------


def test_run_lists_refused_failed_and_truncated_items_with_their_reasons(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    folder = tmp_path / "img"
    write_images(folder, 6, size=(64, 48))
    with FakeLLMServer() as server:
        server.queue(
            Reply(body=openai_body("I'm sorry, but I can't assist with that.")),
            Reply(400, {"error": {"message": "image too small"}}),
            Reply(body=openai_body("A crowd gathers under grey skies while", finish_reason="length")),
        )
        args = ["run", str(folder), "--out", str(tmp_path / "study"), "--describer", "openai:m",
                "--base-url", server.openai_base_url, "--concurrency", "1", "--embedder", "tfidf:4",
                "--reducer", "none", "--clusterer", "kmeans:2", "--map", "none", "-q"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "2 of 6 items not clustered" in output
    assert "1 × refused: model declined: I'm sorry, but I can't assist with that." in output
    assert "1 × failed: HTTP 400: image too small" in output
    assert "1 clustered descriptions were cut off at the token limit" in output
    from semclust.study.pipeline import TRUNCATED_NOTE
    from semclust.study.runs import Run

    notes = Run.load(tmp_path / "study").assignments["note"].fillna("")
    assert sorted(n.split(":")[0] for n in notes if n) == sorted(
        ["refused", "failed", TRUNCATED_NOTE.split(":")[0]])
