"""A minimal RTSP server for live tests (run with Debian's ``/usr/bin/python3``, not the venv).

FFmpeg cannot serve RTSP to clients, so tests start this GStreamer RTSP server instead::

    /usr/bin/python3 tests/ingest/rtsp_server.py --port 8554 --file tests/fixtures/scene/scene.mp4

It serves the file's H.264 video and AAC audio at ``rtsp://127.0.0.1:PORT/cam`` in real time and
prints ``READY`` on stdout once it listens. Every client session gets its own pipeline that
starts at the beginning of the file. Stop it by killing the process.
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LAUNCH = (
    "( filesrc location={file} ! qtdemux name=d "
    "d.video_0 ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 "
    "d.audio_0 ! queue ! aacparse ! rtpmp4apay name=pay1 pt=97 )"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--mount", default="/cam")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH.format(file=args.file))
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    print("READY", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
