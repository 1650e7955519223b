"""The README's two commands, as written, on a clean clone with the default install, exit 0.

Slow (a full install and the whole suite), so it runs only where SEMCLUST_README_CHECK=1:
.ci/run sets it in a step of its own. The commands are read from README.md by
scripts/readme_commands.py, so this checks what a newcomer types.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_CHECK = pytest.mark.skipif(os.environ.get("SEMCLUST_README_CHECK") != "1",
                                reason="runs the README's install and suite on a clean clone: "
                                       "set SEMCLUST_README_CHECK=1 (CI does, in its own step)")

sys.path.insert(0, str(ROOT / "scripts"))
from readme_commands import readme_commands  # noqa: E402


def test_the_readme_commands_are_the_install_the_demo_and_the_suite():
    commands = readme_commands()
    assert commands == ["bash scripts/install.sh && .venv/bin/semclust demo", ".venv/bin/python -m pytest -q"]


@README_CHECK
def test_the_readme_commands_exit_0_on_a_clean_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # the inner suite must not run this test again; SEMCLUST_TORCH etc. unset: the default install
    env = {k: v for k, v in os.environ.items()
           if k not in ("SEMCLUST_README_CHECK", "SEMCLUST_TORCH", "SEMCLUST_EXTRAS", "VIRTUAL_ENV", "PYTHONPATH")}
    for command in readme_commands():
        done = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{command!r} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
