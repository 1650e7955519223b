"""``vllm:MODEL``: the real engine where vllm and a GPU exist (skipped here), and the adapter's requests.

The adapter test puts a stand-in ``vllm`` module (``LLM.chat`` and ``SamplingParams`` with
vLLM's signatures and output objects) in ``sys.modules``, to check what semclust sends and
how it reads the answers, through the same runner as every describer.
"""

from __future__ import annotations

import base64
import io
import sys
import time
import types
from dataclasses import dataclass

import pytest
from PIL import Image

from fake_llm_server import MemoryCache, write_images
from semclust.stages.describe import (
    PRESETS,
    DescriberConfigError,
    create_describer,
    describe_images,
)

PROMPT = PRESETS["connotative"]


@dataclass
class _Completion:
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class _RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[_Completion]


class _FakeLLM:
    """``vllm.LLM`` as far as the adapter uses it: the constructor and ``chat``."""

    def __init__(self, model, dtype, seed, limit_mm_per_prompt, **options):
        self.model, self.options, self.calls = model, dict(dtype=dtype, seed=seed, **options), []
        self.limit = limit_mm_per_prompt

    def chat(self, messages, sampling_params, use_tqdm=True):
        self.calls.append((messages, sampling_params))
        time.sleep(0.3)  # a GPU batch takes time: the next images queue up meanwhile
        out = []
        for conversation in messages:
            content = conversation[0]["content"]
            url = content[0]["image_url"]["url"]
            image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
            text = f"an image of {image.size[0]}x{image.size[1]} pixels"
            cut = sampling_params.max_tokens < 5
            out.append(_RequestOutput(list(range(30)), [_Completion(text, list(range(4)),
                                                                    "length" if cut else "stop")]))
        return out


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = _FakeLLM
    module.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_adapter_sends_batched_chat_requests_and_reads_the_outputs(fake_vllm, tmp_path):
    items = write_images(tmp_path, 6, size=(800, 400))
    describer = create_describer("vllm:Qwen/Qwen2.5-VL-3B-Instruct", max_tokens=64, dtype="bfloat16")
    cache = MemoryCache()
    summary = describe_images(items, describer, PROMPT, cache, concurrency=6, progress=False)
    assert summary.ok == 6
    llm = describer._engine
    assert llm.model == "Qwen/Qwen2.5-VL-3B-Instruct" and llm.options["dtype"] == "bfloat16"
    assert llm.limit == {"image": 1}
    sent = [conversation for messages, _ in llm.calls for conversation in messages]
    assert len(sent) == 6 and len(llm.calls) < 6  # batched
    sampling = llm.calls[0][1]
    assert sampling.temperature == 0.0 and sampling.max_tokens == 64  # greedy by default
    assert all(c[0]["content"][1] == {"type": "text", "text": PROMPT} for c in sent)
    assert {r.text for r in cache.records.values()} == {"an image of 512x256 pixels"}  # downscaled
    record = next(iter(cache.records.values()))
    assert (record.prompt_tokens, record.completion_tokens, record.finish_reason) == (30, 4, "stop")
    assert '"max_new_tokens":64' in record.key.params and '"dtype":"bfloat16"' in record.key.params


def test_finish_reason_length_is_kept(fake_vllm, tmp_path):
    items = write_images(tmp_path, 2, size=(64, 48))
    cache = MemoryCache()
    summary = describe_images(items, create_describer("vllm:m", max_tokens=2), PROMPT, cache, progress=False)
    assert summary.truncated == 2


def test_options_that_do_not_apply_are_errors():
    with pytest.raises(DescriberConfigError, match="openai:MODEL --base-url"):
        create_describer("vllm:m", base_url="http://gpu-node:8000/v1")
    with pytest.raises(DescriberConfigError, match="CUDA"):
        create_describer("vllm:m", device="mps")


def test_real_vllm_engine_on_a_gpu(tmp_path):
    pytest.importorskip("vllm", reason="vllm is not installed (GPU nodes: pip install 'semclust[vllm]'); "
                                       "its adapter is tested above with a stand-in module")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("vllm needs a CUDA GPU; none here")
    model = pytest.importorskip("os").environ.get("SEMCLUST_VLLM_TEST_MODEL")
    if not model:
        pytest.skip("set SEMCLUST_VLLM_TEST_MODEL to a vision model in the local HF cache to run this")
    items = write_images(tmp_path, 4, size=(320, 240))
    summary = describe_images(items, create_describer(f"vllm:{model}", max_tokens=32), PROMPT,
                              MemoryCache(), concurrency=4, progress=False)
    assert summary.ok + summary.refused == 4
