"""What the run pipeline needs from a study, as a Protocol.

:mod:`semclust.study.pipeline` and :mod:`semclust.study.routes` work on "something that holds items,
descriptions and embedding caches"; naming that here keeps them below
:class:`semclust.study.workspace.Study`, which orchestrates them, instead of importing it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd


class StudyData(Protocol):
    folder: Path
    store: Any

    def items(self) -> pd.DataFrame: ...

    def description_source(self) -> Any: ...

    def descriptions(self, source: Any = None) -> pd.Series: ...

    def description_failures(self, source: Any = None) -> pd.Series: ...

    def truncated_descriptions(self, source: Any = None) -> pd.Index: ...

    def embed_texts(self, texts: list[str], embedder: str, progress: bool = True,
                    backend: Any = None) -> np.ndarray: ...

    def image_embedder(self, spec: str, weights: str | None = None) -> Any: ...

    def embed_images(self, spec: str, weights: str | None = None,
                     progress: bool = True) -> tuple[pd.Index, np.ndarray]: ...

    def joint_texts(self, column: str | None = None) -> pd.Series: ...
