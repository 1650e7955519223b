"""semclust: semantic clustering of visual data.

The public names are imported on first use (:mod:`semclust.core.lazy`), so that
``import semclust`` and every ``semclust ... --help`` stay fast: :class:`Study` pulls in
pandas, numpy and the stages, which a command that needs no model should not pay for.
"""

from semclust.core.lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["DescribeOptions", "Run", "RunConfig", "SemclustError", "Study", "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, {
    ".study.config": ("DescribeOptions", "RunConfig"),
    ".core.errors": ("SemclustError",),
    ".study.runs": ("Run",),
    ".study.workspace": ("Study",),
})
