#!/usr/bin/env bash
# Set up (first time, test extras included) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}" HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
mkdir -p "$NUMBA_CACHE_DIR"
exec .venv/bin/python -m pytest "$@"
