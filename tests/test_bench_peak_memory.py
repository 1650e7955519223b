"""The benchmarks' peak memory of a child is the child's own, not its parent's (benchmarks/peak_memory.py)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
CHILD = f"""
import resource, sys
sys.path.insert(0, {str(BENCHMARKS)!r})
from peak_memory import peak_mb
print(peak_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's /proc figure")
def test_a_child_of_a_large_parent_reports_its_own_peak():
    held = np.ones(300 * 2**20, dtype=np.uint8)  # 300 MB resident in this (parent) process
    own, inherited = map(float, subprocess.run([sys.executable, "-c", CHILD], capture_output=True,
                                               text=True, check=True).stdout.split())
    assert held.sum() == held.size
    assert inherited >= 300  # ru_maxrss carries the parent's high-water mark across exec
    assert own < 150  # a bare interpreter with numpy's import, on its own
