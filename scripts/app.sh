#!/usr/bin/env bash
# Set up (first time) and start the ORCA Explorer web app on the embedded default backbone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
