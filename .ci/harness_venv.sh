#!/usr/bin/env bash
# Create (once) the cached venv holding the real lm-eval and lmms-eval, and print its path.
# The path is keyed by a hash of .ci/harness-requirements.txt; a venv is reused when its
# ".complete" marker exists. evallog itself is (re)installed from the checkout on every call.
set -euo pipefail
cd "$(dirname "$0")/.."
req=.ci/harness-requirements.txt
hash=$(sha256sum "$req" | cut -c1-12)
venv="${XDG_CACHE_HOME:-$HOME/.cache}/evallog-ci/harness-$hash"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  start=$(date +%s)
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$req" >&2
  "$venv/bin/python" -m pip uninstall -q -y torchvision >&2 || true
  echo "harness venv installed in $(( $(date +%s) - start ))s: $venv" >&2
  touch "$venv/.complete"
fi
"$venv/bin/python" -m pip install -q --no-deps -e . >&2
echo "$venv"
