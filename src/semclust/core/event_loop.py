"""Running a coroutine from blocking code, whether or not an event loop is already running.

Jupyter, IPython and VS Code notebooks run their cells inside an event loop, where
``asyncio.run`` refuses to start; there the coroutine runs on a fresh loop in a worker
thread while the caller waits, so ``study.describe(...)`` works the same in a notebook
and in a script.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion and return its result (exceptions propagate)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    context = contextvars.copy_context()  # keep the caller's context (e.g. logging, progress settings)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="semclust-loop") as pool:
        return pool.submit(context.run, asyncio.run, coroutine).result()
