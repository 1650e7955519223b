"""The assignment of a rating study (Casas et al. 3.2): who rates which image.

From a stratified sample, images are dealt into *slots* of ``per_coder`` images each: no
slot holds two images of one cluster, slot sizes differ by at most one, and every image
is in exactly one slot. Each coder of each group is given one slot (the least used of
their group), so once every group has as many coders as there are slots, every image has
been rated by at least one coder of each group -- the paper's "every image in the sample
was labeled by one Republican and one Democrat".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from semclust.validation.evaluate.answer_files import SamplingError

#: Images per coder in Casas et al.'s study.
PER_CODER = 8


def rating_slots(sample: pd.DataFrame, per_coder: int = PER_CODER, random_state=0) -> pd.Series:
    """The slot (1..S) of each row of a stratified ``sample`` (``id``, ``cluster``).

    Images are ordered cluster by cluster (clusters and members shuffled) and dealt round
    robin over ``S = ceil(n / per_coder)`` slots, so a cluster's images land in distinct
    slots whenever the cluster has at most S of them.

    Raises
    ------
    SamplingError
        ``per_coder`` below 1, or a cluster with more sampled images than there are slots
        (then some coder would see two of its images: sample fewer per cluster).
    """
    if isinstance(per_coder, bool) or not isinstance(per_coder, int) or per_coder < 1:
        raise SamplingError(f"per_coder must be a whole number >= 1, not {per_coder!r}")
    n_slots = max(1, math.ceil(len(sample) / per_coder))
    sizes = sample["cluster"].value_counts()
    if sizes.max() > n_slots:
        raise SamplingError(
            f"cluster {sizes.idxmax()} has {sizes.max()} sampled images but there are only "
            f"{n_slots} coder slots of {per_coder}: a coder would see two images of one "
            "cluster; sample fewer images per cluster (--per-cluster) or fewer per coder"
        )
    rng = np.random.default_rng(random_state)
    clusters = rng.permutation(sizes.index.to_numpy())
    dealt = [
        index
        for cluster in clusters
        for index in rng.permutation(sample.index[sample["cluster"] == cluster].to_numpy())
    ]
    slots = pd.Series(0, index=sample.index, dtype=int)
    slots[dealt] = np.arange(len(dealt)) % n_slots + 1
    return slots


def parse_groups(text: str | None) -> dict | None:
    """``party=Democrat,Republican`` as ``{"attribute": "party", "values": [...]}``."""
    if not text:
        return None
    attribute, sep, values = text.partition("=")
    names = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not attribute.strip().isidentifier() or len(names) < 1:
        raise SamplingError(
            f"--groups {text!r}: write ATTRIBUTE=VALUE1,VALUE2, e.g. party=Democrat,Republican"
        )
    if len(set(names)) != len(names):
        raise SamplingError(f"--groups {text!r}: a value appears twice")
    return {"attribute": attribute.strip(), "values": names}
