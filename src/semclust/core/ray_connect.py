"""Joining Ray the same way wherever semclust uses it (embedding texts, assigning items)."""

from __future__ import annotations


def connect(ray, address: str | None, workers: int) -> None:
    """Connect ``ray`` once: to ``address`` (``"auto"``: the cluster this node belongs to, e.g.
    the one a SLURM job started) or, without one, to a local instance of ``workers`` CPUs.
    An existing connection is kept as it is, so a notebook's own ``ray.init`` wins."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
