#!/usr/bin/env bash
# Creates training/.venv: Debian's PyTorch 1.13 (CPU) and numpy from apt, the rest pinned from PyPI.
# On a GPU host with PyTorch 2.x already installed, `pip install onnx onnxruntime ml_dtypes matplotlib pytest` is enough
# (training itself needs only torch + numpy + Pillow; see training/device/README.md).
set -euo pipefail
cd "$(dirname "$0")"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-venv python3-pip python3-pil python3-scipy >/dev/null
  else
    echo "Debian's python3-torch is missing: sudo apt-get install python3-torch python3-venv python3-pil python3-scipy" >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/python -c "import torch, onnx, onnxruntime; print('training env: torch', torch.__version__, 'onnx', onnx.__version__, 'onnxruntime', onnxruntime.__version__)"
