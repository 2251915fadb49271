#!/usr/bin/env bash
# Set up everything ORCA Explorer needs on a fresh Debian machine with Python 3.11:
# Debian packages (wordnet corpus for the text source proxy; Chromium for browser tests with --dev)
# and a virtual environment in .venv with the pinned Python packages. Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# --dev: test extras (includes --scale); --scale: the optional scaling packages (requirements-scale.txt)
DEV=0; [ "${1:-}" = "--dev" ] && DEV=1
SCALE=0; [ "${1:-}" = "--scale" ] && SCALE=1
APT_PKGS="wordnet-base"
[ "$DEV" = 1 ] && APT_PKGS="$APT_PKGS chromium chromium-driver"

missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
REQ=requirements.txt; [ "$SCALE" = 1 ] && REQ=requirements-scale.txt; [ "$DEV" = 1 ] && REQ=requirements-dev.txt
LEVEL=$((DEV * 2 + SCALE))  # 0 app, 1 app + scaling, 2 everything
hash=$(cat requirements.txt requirements-scale.txt requirements-dev.txt | sha1sum | cut -c1-12)
stamp=".venv/.installed-$hash-$LEVEL"
# A test set-up (--dev) includes everything the app and --scale need.
if [ ! -f "$stamp" ] && ! [ -f ".venv/.installed-$hash-2" ] && ! { [ "$LEVEL" = 0 ] && [ -f ".venv/.installed-$hash-1" ]; }; then
  echo "setup: installing Python packages from $REQ (first run takes a few minutes)"
  .venv/bin/pip install -q --disable-pip-version-check -r "$REQ"
  rm -f .venv/.installed-*; touch "$stamp"
fi
