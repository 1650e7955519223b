"""Peak resident memory of this process alone, for benchmarks that run each configuration as a child.

``ru_maxrss`` is the wrong figure in a child: on Linux ``execve`` keeps the high-water mark of
the process it replaces, so a child started by a 2 GB benchmark driver reports at least 2 GB
(``subprocess`` starts children by vfork/exec). ``VmHWM`` in ``/proc/self/status`` belongs to
the child's own address space, which exec starts afresh. Elsewhere ``ru_maxrss`` is the fallback.
"""

from __future__ import annotations

import resource


def peak_mb() -> float:
    """The most memory this process has held resident, in MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
