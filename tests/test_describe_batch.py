"""``describe --batch`` against a local server speaking OpenAI's Files and Batches protocol."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import pytest
from PIL import Image

from fake_batch_server import FakeBatchServer
from fake_llm_server import default_text, write_images
from semclust.core.store import StudyStore
from semclust.core.store.batches import StudyBatchLedger, batches_frame
from semclust.stages.describe import (
    PRESETS,
    DescriberConfigError,
    create_describer,
    description_key,
)
from semclust.stages.describe.batch import (
    BatchLimits,
    BatchPolling,
    adescribe_in_batches,
    describe_in_batches,
)
from semclust.study.config import DescribeOptions

PROMPT = PRESETS["connotative"]
FAST = BatchPolling(first=0.01, longest=0.05)


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def server():
    with FakeBatchServer() as srv:
        yield srv


@pytest.fixture
def store(tmp_path):
    s = StudyStore(tmp_path / "study")
    yield s
    s.close()


def ledger_for(store, describer, max_side=512):
    key = description_key("", describer, PROMPT, max_side)
    return StudyBatchLedger(store, key.describer, key.model, key.prompt_hash, key.params_hash)


def run(items, describer, store, **kwargs):
    kwargs.setdefault("polling", FAST)
    kwargs.setdefault("progress", False)
    return describe_in_batches(items, describer, PROMPT, store, ledger_for(store, describer), **kwargs)


def stored(store, items, describer):
    keys = [description_key(sha, describer, PROMPT, 512) for sha, _ in items]
    return store.get_many(keys)


def test_batch_describes_every_image_with_the_live_request_body(server, store, tmp_path):
    items = write_images(tmp_path / "img", 7, size=(900, 600))
    describer = create_describer("openai:gpt-4o-mini", base_url=server.openai_base_url)
    summary = run(items, describer, store)
    assert summary.ok == 7 and summary.failed == 0
    assert server.calls["upload"] == 1 and server.calls["create"] == 1
    records = stored(store, items, describer)
    assert len(records) == 7
    # each description belongs to its own image: the fake answers with a digest of the image it got
    lines = [json.loads(x) for f in server.files.values() for x in f.splitlines() if b'"method"' in x]
    for line in lines:
        url = line["body"]["messages"][0]["content"][1]["image_url"]["url"]
        record = next(r for r in records.values() if r.key.sha256 == line["custom_id"])
        assert record.text == default_text(url.split(",", 1)[1])
        assert line["url"] == "/v1/chat/completions" and line["body"]["model"] == "gpt-4o-mini"
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert max(image.size) == 512  # downscaled as on the live path
    assert set(server.prompts) == {PROMPT}
    assert all(r.finish_reason == "stop" and r.prompt_tokens == 100 for r in records.values())
    again = run(items, describer, store)
    assert again.cached == 7 and server.calls["upload"] == 1  # nothing sent twice


def test_requests_are_split_to_the_file_limits(tmp_path, store):
    items = write_images(tmp_path / "img", 10, size=(64, 48))
    with FakeBatchServer(max_requests=4, max_bytes=20_000) as server:
        describer = create_describer("openai:m", base_url=server.openai_base_url)
        summary = run(items, describer, store, limits=BatchLimits(max_requests=4, max_bytes=20_000))
        assert summary.ok == 10
        sizes = [len(f.splitlines()) for f in server.files.values() if b'"method"' in f]
        assert sum(sizes) == 10
        assert max(sizes) <= 4
        assert all(len(f) <= 20_000 for f in server.files.values())
        assert server.calls["upload"] == server.calls["create"] == len(sizes) >= 3


def test_byte_limit_splits_even_when_the_request_count_fits(tmp_path, store):
    items = write_images(tmp_path / "img", 6, size=(64, 48))
    with FakeBatchServer(max_bytes=9_000) as server:
        describer = create_describer("openai:m", base_url=server.openai_base_url)
        summary = run(items, describer, store, limits=BatchLimits(max_bytes=9_000))
        assert summary.ok == 6
        inputs = [f for f in server.files.values() if b'"method"' in f]
        assert len(inputs) > 1 and all(len(f) <= 9_000 for f in inputs)


def test_failed_and_expired_items_go_into_a_new_batch(server, store, tmp_path):
    items = write_images(tmp_path / "img", 6, size=(64, 48))
    describer = create_describer("openai:m", base_url=server.openai_base_url)
    server.fail_times[items[0][0]] = 1  # one HTTP 500 in the first batch's error file
    server.expire_after = 4  # the first batch expires after four answers
    summary = run(items, describer, store)
    assert summary.ok == 6 and summary.failed == 0
    assert server.calls["create"] == 2  # the retry batch
    retry_lines = [json.loads(x)["custom_id"] for f in list(server.files.values())
                   for x in f.splitlines() if b'"method"' in x][6:]
    # the 500 (item 0) plus the two that expired (items 4 and 5, in the order sent)
    assert sorted(retry_lines) == sorted([items[0][0], items[4][0], items[5][0]])
    frame = batches_frame(store)
    assert sorted(frame["status"]) == ["completed", "expired"] and set(frame["stored"]) == {"yes"}


def test_an_item_that_keeps_failing_is_stored_as_failed_after_max_rounds(server, store, tmp_path):
    items = write_images(tmp_path / "img", 3, size=(64, 48))
    describer = create_describer("openai:m", base_url=server.openai_base_url)
    server.fail_times[items[1][0]] = 10
    summary = run(items, describer, store, max_rounds=2)
    assert summary.ok == 2 and summary.failed == 1
    record = stored(store, items, describer)[description_key(items[1][0], describer, PROMPT, 512)]
    assert record.status == "failed" and "gave up after 2 batches" in record.error


def test_killed_while_polling_resumes_without_resubmitting(server, store, tmp_path):
    items = write_images(tmp_path / "img", 5, size=(64, 48))
    describer = create_describer("openai:m", base_url=server.openai_base_url)
    ledger = ledger_for(store, describer)
    server.hold = True

    async def killed():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await adescribe_in_batches(items, describer, PROMPT, store, ledger,
                                           polling=FAST, progress=False)

    asyncio.run(killed())
    assert server.calls["create"] == 1
    frame = batches_frame(store)  # the batch id was stored the moment it existed
    assert list(frame["batch_id"]) == list(server.batches) and list(frame["stored"]) == ["no"]
    assert stored(store, items, describer) == {}
    server.hold = False
    summary = run(items, describer, store)
    assert summary.ok == 5
    assert server.calls["upload"] == 1 and server.calls["create"] == 1  # zero resubmissions


def test_a_batch_created_but_never_acknowledged_is_found_not_recreated(server, store, tmp_path):
    items = write_images(tmp_path / "img", 3, size=(64, 48))
    describer = create_describer("openai:m", base_url=server.openai_base_url)
    server.drop_next_create = True
    with pytest.raises(Exception):  # noqa: B017 (the connection drops: the run stops)
        asyncio.run(adescribe_in_batches(items, describer, PROMPT, store, ledger_for(store, describer),
                                         polling=FAST, progress=False,
                                         api=_no_retry_api(describer)))
    assert server.calls["create"] == 1 and len(server.batches) == 1
    assert list(batches_frame(store)["status"]) == ["uploaded"]
    summary = run(items, describer, store)
    assert summary.ok == 3
    assert server.calls["create"] == 1 and server.calls["upload"] == 1 and server.calls["list"] >= 1


def _no_retry_api(describer):
    from semclust.stages.describe.batch import BatchAPI

    return BatchAPI(describer, retries=0)


def test_a_file_over_the_request_limit_fails_validation_and_is_not_resent(tmp_path, store):
    items = write_images(tmp_path / "img", 3, size=(64, 48))
    with FakeBatchServer(max_requests=2) as server:  # the client is told a larger limit
        describer = create_describer("openai:m", base_url=server.openai_base_url)
        summary = run(items, describer, store, limits=BatchLimits(max_requests=10))
        assert summary.failed == 3 and server.calls["create"] == 1
        record = next(iter(stored(store, items, describer).values()))
        assert "batch failed" in record.error and "3 requests > 2" in record.error


def test_batch_needs_an_openai_describer(store, tmp_path):
    items = write_images(tmp_path / "img", 1, size=(64, 48))
    ollama = create_describer("ollama:llava", base_url="http://127.0.0.1:9")
    with pytest.raises(DescriberConfigError, match="--batch works with openai"):
        describe_in_batches(items, ollama, PROMPT, store, ledger_for(store, ollama), progress=False)


def test_study_batch_path_applies_the_discount_and_status_lists_batches(server, tmp_study, tmp_path):
    write_images(tmp_path / "img", 4, size=(64, 48))
    tmp_study.ingest(tmp_path / "img", progress=False)
    options = DescribeOptions(base_url=server.openai_base_url, batch=True, batch_poll=0.01,
                              prices=str(_price_file(tmp_path)))
    plan = tmp_study.describe("openai:m", options=options, dry_run=True)
    live = tmp_study.describe("openai:m", options=DescribeOptions(base_url=server.openai_base_url,
                                                                  prices=options.prices), dry_run=True)
    assert plan.estimate.cost == pytest.approx(live.estimate.cost * 0.5)
    summary = tmp_study.describe("openai:m", options=options, progress=False)
    assert summary.ok == 4
    # fake answers carry 100 prompt + 50 completion tokens: 4 x (100 x 1 + 50 x 2) / 1e6 x 0.5
    assert summary.cost == pytest.approx(4 * (100 * 1.0 + 50 * 2.0) / 1e6 * 0.5)
    assert len(tmp_study.describe_batches()) == 1


def _price_file(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text('[openai."m"]\ninput = 1.0\noutput = 2.0\nbatch = 0.5\n')
    return path


def test_cli_batch_then_status_lists_the_batch(server, tmp_path):
    from typer.testing import CliRunner

    from semclust.cli import app

    write_images(tmp_path / "img", 3, size=(64, 48))
    study = str(tmp_path / "s")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(tmp_path / "img"), "--study", study, "-q"]).exit_code == 0
    result = runner.invoke(app, ["describe", "--study", study, "--describer", "openai:m", "--base-url",
                                 server.openai_base_url, "--batch", "--batch-poll", "0.01", "-q"])
    assert result.exit_code == 0, result.output
    assert "3 images sent" in result.output and "0 failed" in result.output
    status = runner.invoke(app, ["describe", "--study", study, "--status"])
    assert status.exit_code == 0, status.output
    assert "completed" in status.output and "0 batch(es) in flight" in status.output
