"""Live sources against real local servers: RTSP (GStreamer) and HTTP MPEG-TS (ffmpeg).

Each test starts its server on a free 127.0.0.1 port, kills it mid-stream, starts it again on
the same port and checks that the source reconnects: a :class:`Gap` (a ``gap`` observation in
the pipeline) is recorded, frames and audio keep coming after it with increasing timestamps,
and nothing crashes. Every test is bounded by a stop event and a pytest timeout, and every
server process is killed in ``finally``.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from scenewatch.config import Config
from scenewatch.errors import SourceError
from scenewatch.ingest.settings import IngestSettings
from scenewatch.ingest.sources import Gap, MediaItem, MediaSource, VideoItem
from scenewatch.memory.store import TimelineStore
from scenewatch.runtime.pipeline import Pipeline, Progress, RunSummary
from scenewatch.types import AudioChunk

pytestmark = pytest.mark.live

HERE = Path(__file__).resolve().parent
SCENE = HERE.parent / "fixtures" / "scene" / "scene.mp4"
RTSP_SERVER = HERE / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
FPS = 25.0


# ----------------------------------------------------------------------------- servers
def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port, without connecting (a connection would be
    taken as the one client of ``ffmpeg -listen 1``)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def _rtsp_available() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0');"
                              "from gi.repository import GstRtspServer"],
        capture_output=True, timeout=30,
    )
    if probe.returncode:
        return "GStreamer RTSP server for python3-gi not installed (apt-get install gir1.2-gst-rtsp-server-1.0)"
    return None


needs_rtsp = pytest.mark.skipif(bool(_rtsp_available()), reason=str(_rtsp_available()))
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


class Server:
    """One restartable streaming server process on a fixed port."""

    def __init__(self, argv: list[str], port: int, ready: Callable[[subprocess.Popen[bytes]], None]) -> None:
        self.argv, self.port, self._ready = argv, port, ready
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and wait (bounded) until it listens."""
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self._ready(self.proc)

    def kill(self) -> None:
        """Kill the process (a hard drop: no goodbye to the client)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test paused it
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def pause(self) -> None:
        """Freeze the process: the connection stays open but no data flows (a stalled stream)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)


def _wait_for_line(proc: subprocess.Popen[bytes], word: bytes, timeout: float = 20.0) -> None:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline() if proc.stdout else b""),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    if not got or word not in got[0]:
        proc.kill()
        raise RuntimeError(f"server did not start: {got[0] if got else b'(no output)'!r}")


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"ffmpeg did not listen on port {port}")
        time.sleep(0.05)


@contextlib.contextmanager
def rtsp_server() -> Iterator[tuple[Server, str]]:
    """GStreamer RTSP server serving the scene fixture at ``rtsp://127.0.0.1:PORT/cam``."""
    port = free_port()
    server = Server([SYSTEM_PYTHON, str(RTSP_SERVER), "--port", str(port), "--file", str(SCENE)], port,
                    lambda p: _wait_for_line(p, b"READY"))
    server.start()
    try:
        yield server, f"rtsp://127.0.0.1:{port}/cam"
    finally:
        server.kill()


@contextlib.contextmanager
def http_ts_server() -> Iterator[tuple[Server, str]]:
    """ffmpeg serving the scene fixture in real time as MPEG-TS over HTTP (one client)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/live.ts"
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-i", str(SCENE), "-c", "copy",
            "-f", "mpegts", "-listen", "1", url]
    server = Server(argv, port, lambda p: _wait_listening(port, p))
    server.start()
    try:
        yield server, url
    finally:
        server.kill()


def fast_reconnect(open_timeout: float = 3.0, give_up_after: float = 30.0) -> IngestSettings:
    return IngestSettings(reconnect={"initial_delay": 0.2, "max_delay": 1.0, "open_timeout": open_timeout,
                                     "give_up_after": give_up_after})


# ------------------------------------------------------------------------- collecting
@dataclass
class Collected:
    video: list[VideoItem] = field(default_factory=list)
    audio: list[AudioChunk] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    error: BaseException | None = None


def collect(source: MediaSource, on_item: Callable[[MediaItem, float], None], media_limit: float,
            wall_limit: float) -> Collected:
    """Read a live source until ``media_limit`` media seconds or ``wall_limit`` wall seconds."""
    out = Collected()
    guard = threading.Timer(wall_limit, source.stop.set)  # hard bound even if the source blocks
    guard.start()
    started = time.monotonic()
    try:
        for item in source.items():
            if isinstance(item, VideoItem):
                out.video.append(VideoItem(None, item.pts, item.index, item.source_id, item.wall_time))
                t = item.pts
            elif isinstance(item, AudioChunk):
                out.audio.append(item)
                t = item.start
            else:
                out.gaps.append(item)
                t = item.end
            on_item(item, time.monotonic() - started)
            if t > media_limit:
                break
    finally:
        guard.cancel()
        source.stop.set()
        source.close()
    return out


def assert_live_stream_ok(got: Collected, drop_at: float) -> None:
    """Frames and audio before and after exactly one gap, all in time order at 25 fps."""
    assert len(got.gaps) == 1, got.gaps
    gap = got.gaps[0]
    assert drop_at - 2.0 < gap.start < drop_at + 1.0, (gap, drop_at)
    assert gap.end > gap.start + 0.5  # the server was down for at least a second
    assert gap.reason
    v = [it.pts for it in got.video]
    assert all(b > a for a, b in pairwise(v)), "video timestamps must increase"
    a = [c.start for c in got.audio]
    assert all(b > x for x, b in pairwise(a)), "audio timestamps must increase"
    before = [t for t in v if t <= gap.start]
    after = [t for t in v if t >= gap.end]
    assert len(before) + len(after) == len(v), "no frame inside the gap"
    assert len(before) >= FPS * 1.5 and len(after) >= FPS * 3, (len(before), len(after))
    # Steady 25 fps after the reconnect: frame spacing is 40 ms.
    steps = sorted(b - x for x, b in pairwise(after))
    assert steps[len(steps) // 2] == pytest.approx(1 / FPS, abs=0.005)
    assert any(c.end <= gap.start for c in got.audio) and any(c.start >= gap.end for c in got.audio)
    assert all(abs(c.duration - 1.0) < 1e-6 for c in got.audio if c.start >= gap.end and c.end < a[-1])
    # Wall-clock times follow the media clock across the gap (the clock keeps running).
    walls = [it.wall_time for it in got.video]
    assert all(w is not None for w in walls)
    for item in (got.video[0], got.video[-1]):
        assert item.wall_time is not None and got.video[0].wall_time is not None
        assert (item.wall_time - got.video[0].wall_time) == pytest.approx(item.pts - got.video[0].pts, abs=0.05)


def drop_and_return(server: Server, at: float, down_for: float) -> Callable[[MediaItem, float], None]:
    """An ``on_item`` hook: kill the server at media time ``at``, start it again ``down_for`` s later."""
    state = {"done": False}

    def hook(item: MediaItem, _elapsed: float) -> None:
        if not state["done"] and isinstance(item, VideoItem) and item.pts >= at:
            state["done"] = True
            server.kill()
            threading.Timer(down_for, server.start).start()

    return hook


# ------------------------------------------------------------------------------ tests
@needs_rtsp
@pytest.mark.timeout(90)
def test_rtsp_frames_audio_and_reconnect() -> None:
    with rtsp_server() as (server, url):
        source = MediaSource(url, fast_reconnect())
        assert source.info.kind == "live" and source.info.duration is None
        assert (source.info.width, source.info.height, source.info.video_codec, source.info.audio_codec) == \
            (640, 360, "h264", "aac")
        got = collect(source, drop_and_return(server, at=3.0, down_for=1.0), media_limit=10.0, wall_limit=40.0)
    assert_live_stream_ok(got, drop_at=3.0)


@needs_ffmpeg
@pytest.mark.timeout(90)
def test_http_mpegts_frames_audio_and_reconnect() -> None:
    with http_ts_server() as (server, url):
        source = MediaSource(url, fast_reconnect())
        assert (source.info.width, source.info.height, source.info.video_codec, source.info.audio_codec) == \
            (640, 360, "h264", "aac")
        got = collect(source, drop_and_return(server, at=2.5, down_for=1.0), media_limit=10.0, wall_limit=40.0)
    assert_live_stream_ok(got, drop_at=2.5)


@needs_rtsp
@pytest.mark.timeout(90)
def test_rtsp_stall_is_a_gap_as_long_as_the_outage() -> None:
    """A frozen server keeps the socket open: the read timeout notices it, and the gap covers
    the whole outage (the media clock follows the wall clock, not the moment it was noticed)."""
    with rtsp_server() as (server, url):
        source = MediaSource(url, fast_reconnect(open_timeout=1.5))
        marks: dict[str, float] = {}

        def hook(item: MediaItem, elapsed: float) -> None:
            if "paused" not in marks and isinstance(item, VideoItem) and item.pts >= 2.0:
                marks["paused"], marks["pts"] = elapsed, item.pts
                server.pause()

                def back() -> None:
                    server.kill()
                    server.start()
                    marks["back"] = time.monotonic() - started

                threading.Timer(4.0, back).start()

        started = time.monotonic()
        got = collect(source, hook, media_limit=12.0, wall_limit=45.0)
    assert len(got.gaps) == 1
    gap = got.gaps[0]
    assert "no data for 1.5 s" in gap.reason
    outage = marks["back"] - marks["paused"]
    assert gap.end - gap.start == pytest.approx(outage, abs=1.5), (gap, marks)
    v = [it.pts for it in got.video]
    assert all(b > a for a, b in pairwise(v))
    assert sum(t >= gap.end for t in v) >= FPS * 3


@needs_rtsp
@pytest.mark.timeout(120)
def test_rtsp_pipeline_records_gap_and_keeps_perceiving(tmp_path: Path) -> None:
    """The full pipeline (``--stages scene``) over RTSP: a ``gap`` observation at the drop and
    the red circle's motion seen both before it and after the stream came back."""
    config = Config(store={"path": tmp_path / "live.db"}, perception={"stages": ["scene"]},
                    ingest=fast_reconnect().model_dump())
    stop = threading.Event()
    latest: list[Progress] = []
    with rtsp_server() as (server, url), TimelineStore(config.store.path) as store:
        pipeline = Pipeline(config, store, on_progress=latest.append, stop=stop)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["summaries"] = pipeline.run(url, until=17.0)
            except BaseException as exc:  # re-raised in the test thread
                result["error"] = exc

        worker = threading.Thread(target=run, daemon=True)
        guard = threading.Timer(80.0, stop.set)
        worker.start()
        guard.start()
        try:
            # The circle crosses the frame at 2–6 s of the file; drop the stream after it.
            deadline = time.monotonic() + 40
            while not (latest and latest[-1].media_time >= 7.0) and time.monotonic() < deadline:
                time.sleep(0.05)
            server.kill()
            time.sleep(1.0)
            server.start()
            worker.join(timeout=85)
        finally:
            stop.set()
            guard.cancel()
            worker.join(timeout=10)
        assert "error" not in result, result.get("error")
        summaries: list[RunSummary] = result["summaries"]
        (summary,) = summaries
        observations = store.observations(source_id=summary.source_id)
    assert summary.status == "stopped" and summary.error is None
    assert summary.gaps == 1 and summary.frames > FPS * 12
    gaps = [o for o in observations if o.kind == "gap"]
    assert len(gaps) == 1 and gaps[0].label == "stream gap" and gaps[0].end > gaps[0].start + 0.5
    gap = gaps[0]
    motion = [o for o in observations if o.kind == "motion"]
    # After the reconnect the server replays the file from 0, so the circle crosses again
    # 2–6 s after the gap; the motion box lies in the circle's band (y 84..140 px).
    for span in ([m for m in motion if m.end <= gap.start], [m for m in motion if m.start >= gap.end]):
        assert span, motion
        circle = max(span, key=lambda m: m.end - m.start)
        assert circle.box is not None and circle.box[1] <= 84 and circle.box[3] >= 140 and circle.box[3] <= 240
        assert circle.end - circle.start >= 2.0
    after = max((m for m in motion if m.start >= gap.end), key=lambda m: m.end - m.start)
    assert after.start - gap.end == pytest.approx(2.0, abs=1.5)


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
@pytest.mark.timeout(30)
def test_refused_url_is_a_clear_source_error(scheme: str) -> None:
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}/cam"
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        MediaSource(url, fast_reconnect())
    assert time.monotonic() - started < 5.0
    message = str(info.value)
    assert url in message and "refused" in message.lower() and "\n" not in message


@needs_ffmpeg
@pytest.mark.timeout(60)
def test_gives_up_when_the_stream_does_not_return() -> None:
    with http_ts_server() as (server, url):
        source = MediaSource(url, fast_reconnect(give_up_after=2.0))
        gaps: list[Gap] = []
        started = time.monotonic()
        with pytest.raises(SourceError, match="no data for 2 s"):
            for item in source.items():
                if isinstance(item, Gap):
                    gaps.append(item)
                if isinstance(item, VideoItem) and item.pts >= 1.0 and server.proc and server.proc.poll() is None:
                    server.kill()
                assert time.monotonic() - started < 30
    assert len(gaps) == 1 and gaps[0].reason.startswith("gave up") and gaps[0].end >= gaps[0].start
