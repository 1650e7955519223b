"""``hf:MODEL`` on tiny random models of two architectures, through the same runner as the HTTP backends."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("transformers", reason="the hf: describer needs transformers (pip install 'semclust[hf]')")

from transformers.utils import is_torchvision_available  # noqa: E402

from fake_llm_server import MemoryCache, write_images  # noqa: E402
from semclust.core.errors import MissingModelError  # noqa: E402
from semclust.stages.describe import (  # noqa: E402
    PRESETS,
    DescriberConfigError,
    create_describer,
    describe_images,
)
from semclust.stages.describe.local import pick_device, pick_dtype  # noqa: E402
from semclust.stages.describe.prepare import prepare_image  # noqa: E402
from tiny_vlms import tiny_llava, tiny_qwen2_vl  # noqa: E402

PROMPT = PRESETS["connotative"]
BUILDERS = {"llava": tiny_llava, "qwen2-vl": tiny_qwen2_vl}


# transformers' Qwen2-VL processor needs torchvision, which the default (CPU) install leaves out;
# asked the way transformers asks before it refuses
NEEDS_TORCHVISION = pytest.mark.skipif(not is_torchvision_available(), reason="qwen2-vl's processor needs torchvision "
                                       "(not in the default CPU install; the cnn/clip extras bring it)")
ARCHITECTURES = [pytest.param(name, marks=NEEDS_TORCHVISION) if name == "qwen2-vl" else name
                 for name in sorted(BUILDERS)]


@pytest.fixture(scope="module", params=ARCHITECTURES)
def model_dir(request, tmp_path_factory):
    if request.param == "qwen2-vl":  # transformers' Qwen2-VL processor loads a video processor built on torchvision
        pytest.importorskip("torchvision", reason="Qwen2-VL's processor needs torchvision (semclust[cnn])")
    return BUILDERS[request.param](tmp_path_factory.mktemp(request.param))


@pytest.fixture
def images(tmp_path):
    items = write_images(tmp_path / "a", 3, size=(96, 64), seed=1)
    return items + write_images(tmp_path / "b", 3, size=(64, 96), seed=2)


@pytest.mark.slow  # generates for 6 images twice per architecture (~10 s on a busy 2-core machine)
def test_batched_generation_through_the_runner_matches_one_by_one(model_dir, images):
    describer = create_describer(f"hf:{model_dir}", device="cpu", max_tokens=6)
    cache = MemoryCache()
    summary = describe_images(images, describer, PROMPT, cache, concurrency=4, progress=False)
    assert summary.ok + summary.refused == 6 and summary.failed == 0
    assert max(describer.batch_sizes) > 1  # concurrent calls were generated together
    alone = {sha: describer.generate([prepare_image(path, 512)], [PROMPT])[0].text for sha, path in images}
    got = {r.key.sha256: r.text for r in cache.records.values()}
    assert got == alone  # left padding and batching change no answer
    record = next(iter(cache.records.values()))
    assert record.completion_tokens <= 6 and record.prompt_tokens > 0
    assert record.served_model == str(model_dir)


def test_rerun_is_served_from_the_cache_and_parameters_are_in_the_key(model_dir, images):
    cache = MemoryCache()
    first = create_describer(f"hf:{model_dir}", device="cpu", max_tokens=4)
    describe_images(images, first, PROMPT, cache, concurrency=2, progress=False)
    again = create_describer(f"hf:{model_dir}", device="cpu", max_tokens=4)
    summary = describe_images(images, again, PROMPT, cache, concurrency=2, progress=False)
    assert summary.cached == 6 and summary.requested == 0 and again.batch_sizes == []
    longer = create_describer(f"hf:{model_dir}", device="cpu", max_tokens=5)
    assert describe_images(images, longer, PROMPT, cache, progress=False).requested == 6
    key = next(iter(cache.records)).params
    assert '"do_sample":false' in key and '"dtype":"float32"' in key and '"max_new_tokens"' in key


def test_an_answer_cut_at_max_tokens_is_marked_truncated(model_dir, images):
    describer = create_describer(f"hf:{model_dir}", device="cpu", max_tokens=1)
    descriptions = describer.generate([prepare_image(p, 512) for _, p in images[:2]], [PROMPT] * 2)
    # a random model almost never says its end token first; one new token is then a cut answer
    assert all(d.completion_tokens == 1 for d in descriptions)
    assert {d.finish_reason for d in descriptions} <= {"length", "stop"}
    assert any(d.finish_reason == "length" for d in descriptions)


def test_sampling_parameters_enter_the_key():
    describer = create_describer("hf:some/model", device="cpu", temperature=0.7, top_p=0.9)
    params = describer.generation_params()
    assert params["do_sample"] is True and params["temperature"] == 0.7 and params["top_p"] == 0.9


def test_missing_model_says_how_to_download_once(tmp_path, monkeypatch, images):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    describer = create_describer("hf:nobody/no-such-vlm", device="cpu")
    with pytest.raises(MissingModelError, match="hf download nobody/no-such-vlm"):
        asyncio.run(describer.open(1))
    folder = create_describer(f"hf:{tmp_path}", device="cpu")
    with pytest.raises(MissingModelError, match="does not hold a complete model"):
        asyncio.run(folder.open(1))


def test_device_and_dtype_defaults_and_errors():
    assert pick_dtype("cpu", None) == "float32" and pick_dtype("mps", None) == "float16"
    assert pick_dtype("cpu", "bfloat16") == "bfloat16"
    with pytest.raises(DescriberConfigError, match="dtype"):
        pick_dtype("cpu", "int4")
    with pytest.raises(DescriberConfigError, match="device"):
        pick_device("tpu")
    with pytest.raises(DescriberConfigError, match="base-url"):
        create_describer("hf:x", base_url="http://localhost:8000/v1")


def test_cuda_defaults_to_bfloat16_where_supported():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here: the GPU path (bf16/fp16 on cuda) is checked on a GPU machine")
    assert pick_device(None) == "cuda"
    assert pick_dtype("cuda", None) == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")


def test_study_describes_with_an_in_process_model(tmp_study, tmp_path):
    from semclust.study.config import DescribeOptions

    model = tiny_llava(tmp_path / "llava")
    write_images(tmp_path / "img", 3, size=(64, 48))
    tmp_study.ingest(tmp_path / "img", progress=False)
    summary = tmp_study.describe(f"hf:{model}", options=DescribeOptions(device="cpu", max_tokens=4),
                                 progress=False)
    assert summary.failed == 0 and summary.ok + summary.refused == 3
    assert summary.cost == 0.0  # a local model costs nothing per token
