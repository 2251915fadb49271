#!/usr/bin/env bash
# Set up (first time, test extras included) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}" HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
mkdir -p "$NUMBA_CACHE_DIR"
# Two workers, a file at a time each (tests/conftest.py starts the longest files first); pass
# `-n 0` to run in one process, e.g. when debugging one test.
exec .venv/bin/python -m pytest -n "${ORCA_TEST_WORKERS:-2}" --dist loadfile "$@"
