"""``hf:MODEL``: a vision-language model run in-process with Hugging Face transformers.

Any image-text-to-text model transformers can load with ``AutoModelForImageTextToText``
and ``AutoProcessor`` (LLaVA-1.5/1.6, Qwen2/2.5-VL, SmolVLM, Idefics3, Gemma 3, ...).
Weights come from a local folder (``hf:/path/to/model``) or the Hugging Face cache and
are never downloaded at run time. Concurrent calls from the runner are generated in
batches (see :class:`~semclust.stages.describe.local.MicroBatcher`; the batch size is the run's
concurrency). Decoding is greedy unless a temperature is given, and every generation
parameter, the dtype included, is part of the description cache key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from semclust.core.errors import MissingModelError, require
from semclust.core.store.records import Description
from semclust.stages.describe.errors import DescriberConfigError
from semclust.stages.describe.local import LocalDescriber, pick_device, pick_dtype
from semclust.stages.describe.prepare import PreparedImage


class HFDescriber(LocalDescriber):
    """Describe images with a transformers model in this process.

    Parameters
    ----------
    model : str
        A Hugging Face model id already in the local cache, or a folder with the model.
    device : str, optional
        ``cuda``, ``cuda:1``, ``mps`` or ``cpu``; default the best available.
    dtype : str, optional
        ``bfloat16``, ``float16`` or ``float32``; default bfloat16 (float16 on GPUs without
        it) on CUDA, float16 on MPS, float32 on CPU.
    max_tokens : int, optional
        New tokens per description (default 300); an answer cut there has
        ``finish_reason="length"``.
    temperature : float, optional
        ``None`` or 0: greedy decoding (reproducible); above 0: sampling.
    top_p : float, optional
        Nucleus sampling (only with a temperature).
    trust_remote_code : bool
        Allow models whose code lives in their repository (read it first).
    """

    name = "hf"
    example_model = "HuggingFaceTB/SmolVLM-256M-Instruct"
    base_url_hint = "--base-url does not apply"

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        trust_remote_code: bool = False,
    ):
        self.device = pick_device(device)
        super().__init__(model, dtype=pick_dtype(self.device, dtype), max_tokens=max_tokens,
                         temperature=temperature, top_p=top_p)
        self.trust_remote_code = trust_remote_code

    def __repr__(self) -> str:
        return f"HFDescriber(model={self.model!r}, device={self.device!r}, dtype={self.dtype!r})"

    def _load(self) -> tuple[Any, Any, str, Any]:
        transformers = require("transformers", "hf", "the hf: describer")
        import torch

        device = self.device
        torch_dtype = getattr(torch, self.dtype)
        options = {"local_files_only": True, "trust_remote_code": self.trust_remote_code}
        folder = Path(self.model).expanduser()
        if folder.is_dir() and not (folder / "config.json").is_file():
            raise MissingModelError(missing_model_message(self.model, FileNotFoundError("no config.json")))
        try:
            processor = transformers.AutoProcessor.from_pretrained(self.model, **options)
            model = transformers.AutoModelForImageTextToText.from_pretrained(
                self.model, dtype=torch_dtype, **options
            )
        except OSError as exc:
            raise MissingModelError(missing_model_message(self.model, exc)) from None
        except ValueError as exc:  # transformers' "Unrecognized configuration class ..."
            raise DescriberConfigError(
                f"hf:{self.model} is not an image-text-to-text model transformers can load: {exc}"
            ) from None
        if getattr(processor, "chat_template", None) is None:
            raise DescriberConfigError(f"hf:{self.model} has no chat template in its processor")
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # decoder-only batches are padded on the left
        model.to(device).eval()
        return processor, model, device, torch_dtype

    def _generate(self, engine: Any, images: Sequence[PreparedImage], prompts: Sequence[str]) -> list[Description]:
        import torch

        processor, model, device, torch_dtype = engine
        texts = [_chat_text(processor, prompt) for prompt in prompts]
        inputs = processor(images=[[image.to_pil()] for image in images], text=texts,
                           return_tensors="pt", padding=True)
        inputs = {k: _to(v, device, torch_dtype) for k, v in inputs.items()}
        with torch.inference_mode():
            output = model.generate(**inputs, **self._generate_kwargs(processor))
        prompt_length = inputs["input_ids"].shape[1]
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        return [
            self._description(processor, row[prompt_length:], n_prompt)
            for row, n_prompt in zip(output, prompt_tokens, strict=True)
        ]

    def _generate_kwargs(self, processor: Any) -> dict[str, Any]:
        tokenizer = getattr(processor, "tokenizer", processor)
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": False}
        if tokenizer.pad_token_id is not None:
            kwargs["pad_token_id"] = tokenizer.pad_token_id
        if self.temperature is not None:
            kwargs.update(do_sample=True, temperature=self.temperature)
            if self.top_p is not None:
                kwargs["top_p"] = self.top_p
        return kwargs

    def _description(self, processor: Any, new_tokens: Any, prompt_tokens: int) -> Description:
        tokenizer = getattr(processor, "tokenizer", processor)
        ids = new_tokens.tolist()
        eos = _eos_ids(tokenizer)
        stop = next((i for i, token in enumerate(ids) if token in eos), None)
        generated = ids if stop is None else ids[: stop + 1]
        if tokenizer.pad_token_id is not None and stop is None:
            generated = [t for t in generated if t != tokenizer.pad_token_id]
        text = tokenizer.decode(generated, skip_special_tokens=True).strip()
        finish = "length" if stop is None and len(generated) >= self.max_new_tokens else "stop"
        return Description(text=text, prompt_tokens=int(prompt_tokens),
                           completion_tokens=len(generated), finish_reason=finish,
                           served_model=self.model)


def _chat_text(processor: Any, prompt: str) -> str:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def _to(value: Any, device: str, dtype: Any) -> Any:
    if hasattr(value, "to"):
        return value.to(device=device, dtype=dtype) if value.is_floating_point() else value.to(device)
    return value


def _eos_ids(tokenizer: Any) -> set[int]:
    eos = tokenizer.eos_token_id
    return set(eos) if isinstance(eos, list) else ({eos} if eos is not None else set())


def missing_model_message(model: str, exc: Exception) -> str:
    if Path(model).expanduser().is_absolute() or model.startswith("."):
        where = f"the folder {model} does not hold a complete model ({exc})"
    else:
        cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        where = f"{model} is not in the Hugging Face cache ({cache})"
    return (
        f"hf:{model}: {where}. semclust never downloads models while describing. Download it "
        f"once, where there is internet: `hf download {model}` (or `huggingface-cli download "
        f"{model}`), or pass a folder with the model: hf:/path/to/model"
    )
