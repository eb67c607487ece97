#!/usr/bin/env bash
# Run scenewatch on the bundled front-door sample: watch it, list the timeline, ask about it.
set -euo pipefail
BIN="${1:-.venv/bin}"; SAMPLE="${2:-tests/fixtures/scene/scene.mp4}"
DB="${SCENEWATCH_DEMO_DB:-demo/timeline.db}"
mkdir -p "$(dirname "$DB")"
echo "== scenewatch info $SAMPLE"
"$BIN/scenewatch" info "$SAMPLE"
echo "== scenewatch watch $SAMPLE --for \"package, doorbell, PRIORITY MAIL, someone speaking\""
"$BIN/scenewatch" watch "$SAMPLE" --db "$DB" --restart --for "package, doorbell, PRIORITY MAIL, someone speaking"
echo "== scenewatch timeline"
"$BIN/scenewatch" timeline --db "$DB" --min-confidence 0.3
if "$BIN/scenewatch" --help | grep -q " search "; then
  echo "== scenewatch search \"priority mail\""
  "$BIN/scenewatch" search "priority mail" --db "$DB"
fi
if "$BIN/scenewatch" --help | grep -q " ask "; then
  echo "== scenewatch ask \"when was the package delivered and what does the label say?\""
  "$BIN/scenewatch" ask "$DB" "when was the package delivered and what does the label say?"
fi
