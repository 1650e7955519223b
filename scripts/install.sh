#!/usr/bin/env bash
# Create .venv and install semclust with every backend, CPU-only where it matters.
# torch is pinned first: a bare `torch` requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
case "$(uname -m)" in
  x86_64) TORCH="torch==2.14.1 torchvision==0.29.1" ;;   # the pair that imports together on x86_64
  *)      TORCH="torch==2.9.1 torchvision==0.24.1" ;;    # aarch64: a CPU build
esac
# shellcheck disable=SC2086
.venv/bin/python -m pip install -q $TORCH
.venv/bin/python -m pip install -q -e ".[all,dev]"
echo "installed: $(.venv/bin/semclust --help >/dev/null && echo semclust ok) in $(pwd)/.venv"
