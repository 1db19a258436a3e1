#!/usr/bin/env bash
# `npm run train`: installs Debian's PyTorch (and OpenBLAS, ~8x faster than the reference BLAS it
# would otherwise use on 2 cores) if missing, then trains the default model into public/models/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi
exec /usr/bin/python3 tools/train/train.py "$@"
