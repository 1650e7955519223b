"""The option types more than one command declares, so a flag reads the same everywhere.

Each is an ``Annotated`` alias (type, flag names, help); a command gives the default, e.g.
``seed: SeedOpt = 0``. Typer reads a command's annotations from its module's globals, so a
command module imports the aliases it uses from here at load time; this module imports
nothing of semclust, so that ``semclust --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer


def _quiet(value: bool) -> bool:
    """``-q``: no progress bars and no INFO logs (warnings and errors still show)."""
    if value:
        logging.getLogger().setLevel(logging.WARNING)
        os.environ["SEMCLUST_QUIET"] = "1"
    return value


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", callback=_quiet,
                                        help="No progress bars and no INFO logs (warnings and errors still show).")]
StudyOpt = Annotated[Path, typer.Option("--study", "-s", help="The study folder.")]
RunOpt = Annotated[str, typer.Option("--run", help="Run id, or 'latest'.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (results are deterministic for a seed).")]

# --- describing: `describe` and `run` --------------------------------------------------------
PromptOpt = Annotated[str, typer.Option(help="connotative, denotative, or a text file.")]
ConcurrencyOpt = Annotated[int, typer.Option(help="Requests in flight.")]
RpmOpt = Annotated[float | None, typer.Option(help="Requests-per-minute limit.")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds per request.")]
MaxRetriesOpt = Annotated[int, typer.Option(help="Retries on 429/5xx/timeouts.")]
MaxTokensOpt = Annotated[int | None, typer.Option(help="Token limit per description (default: the provider's); answers cut off at it are marked truncated.")]
RetryRefusedOpt = Annotated[bool, typer.Option(help="Ask again for images the model refused.")]
RetryTruncatedOpt = Annotated[bool, typer.Option(help="Ask again for descriptions cut off at the token limit.")]
GraceOpt = Annotated[float, typer.Option(help="Seconds the first Ctrl-C waits for answers in flight (paid for) before quitting.")]

# --- embedding and clustering: `embed`, `cluster` and `run` ----------------------------------
EmbedderOpt = Annotated[str, typer.Option(help="st:MODEL, tfidf:K or openai:MODEL.")]
EngineOpt = Annotated[str, typer.Option(help="Where texts are embedded: local, or ray (a Ray cluster; see docs/scale.md).")]
AddressOpt = Annotated[str | None, typer.Option(help="--engine ray: the cluster's address ('auto' joins the one this node belongs to; default: a local instance).")]
ReducerOpt = Annotated[str | None, typer.Option(help="umap:N_COMPONENTS:N_NEIGHBORS, pca:N, pca:0.8 or none (default: chosen by --preset).")]
ClustererOpt = Annotated[str | None, typer.Option(help="hdbscan:MIN_CLUSTER_SIZE[:MIN_SAMPLES], kmeans:K or iterkmeans (default: chosen by --preset).")]
PresetOpt = Annotated[str, typer.Option(help="Settings when --reducer/--clusterer are not given: auto (from the corpus size, see docs/scale.md) or arminio (umap:10:15 + hdbscan:50, the paper's).")]
FitSampleOpt = Annotated[int | None, typer.Option(help="Fit the reducer and clusterer on N random items and assign the rest (0 = fit on everything; default: a 100,000 sample above 200,000 items).")]
DeviceOpt = Annotated[str, typer.Option(help="umap/hdbscan/kmeans on a GPU with RAPIDS cuML: auto (when present), cpu or cuda.")]
RouteOpt = Annotated[str, typer.Option(help="text, image (CNN/CLIP baseline), concat (vector-level), clip (joint) or labels (label-level).")]
ImageEmbedderOpt = Annotated[str, typer.Option(help="cnn:vgg16, cnn:resnet50, cnn:resnet18, cnn:xception, cnn:resnet18-places365, clip:ViT-B-32, finetuned:FILE.")]
WeightsOpt = Annotated[str | None, typer.Option(help="Weights file for the image embedder (default: the library's cache).")]
ImageWeightOpt = Annotated[float, typer.Option(help="concat route: weight of the image block.")]
TextColumnOpt = Annotated[str | None, typer.Option(help="clip route: the post-text column (default: the descriptions).")]
KeepGroupsOpt = Annotated[int | None, typer.Option(help="labels route: keep only the N largest groups.")]

# --- coded pairs: `evaluate` and `grid` ------------------------------------------------------
CodesOpt = Annotated[Path | None, typer.Option(help="Coded pairs CSV (id_a, id_b, <dimension>_<coder>...).")]
ScaleOpt = Annotated[str, typer.Option(help="Scale of the graded codes: auto, 0-2 or 1-3.")]
MinSameOpt = Annotated[int, typer.Option(help="Fewest same-cluster pairs for a quality score.")]
MinDiffOpt = Annotated[int, typer.Option(help="Fewest different-cluster pairs for a quality score.")]
FoldsOpt = Annotated[int, typer.Option(help="Cross-validation folds for pair precision/recall.")]
