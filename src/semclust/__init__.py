"""semclust: semantic clustering of visual data."""

from .config import DescribeOptions, RunConfig
from .errors import SemclustError
from .runs import Run
from .study import Study

__version__ = "0.1.0"
__all__ = ["DescribeOptions", "Run", "RunConfig", "SemclustError", "Study", "__version__"]
