"""Shared fixtures: fixture paths and a synthetic scene with exact ground truth."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The test-media folder (copied from the shared corpus, see fixtures/MANIFEST.md)."""
    return FIXTURES


@pytest.fixture(scope="session")
def scene_truth() -> dict:
    """Ground truth of the shared front-door scene (fixtures/scene/scene.json)."""
    return json.loads((FIXTURES / "scene" / "scene.json").read_text())


def make_synthetic_video(path: Path, *, seconds: float = 8.0, fps: int = 25, size: tuple[int, int] = (320, 180),
                         audio: bool = True, video: bool = True) -> dict:
    """Write a small scene with known truth and return it.

    Truth: a white square moves left→right from 2.0 s to 4.0 s; at 5.0 s the background cuts
    from dark blue to orange (a scene change); a 1 kHz tone plays from 3.0 s to 4.0 s.
    """
    import av

    w, h = size
    truth = {"motion": (2.0, 4.0), "cut": 5.0, "tone": (3.0, 4.0), "duration": seconds}
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.options = {"preset": "ultrafast", "g": "25"}
        as_ = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        frames = int(seconds * fps)
        if vs is not None:
            for i in range(frames):
                t = i / fps
                img = np.empty((h, w, 3), np.uint8)
                img[:] = (20, 30, 120) if t < truth["cut"] else (230, 140, 30)
                if 2.0 <= t <= 4.0:
                    x = int((t - 2.0) / 2.0 * (w - 40))
                    img[70:110, x:x + 40] = 255
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                for packet in vs.encode(frame):
                    out.mux(packet)
            for packet in vs.encode():
                out.mux(packet)
        if as_ is not None:
            sr, n = 16000, 1024
            total = int(seconds * sr)
            t_all = np.arange(total) / sr
            sig = np.where((t_all >= 3.0) & (t_all < 4.0), 0.5 * np.sin(2 * np.pi * 1000 * t_all), 0.0)
            for start in range(0, total, n):
                chunk = sig[start:start + n].astype(np.float32)[None, :]
                af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                af.sample_rate, af.pts, af.time_base = sr, start, Fraction(1, sr)
                for packet in as_.encode(af):
                    out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return truth


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A synthetic 8 s scene (video + audio) and its truth."""
    path = tmp_path_factory.mktemp("synth") / "synthetic.mp4"
    return path, make_synthetic_video(path)


@pytest.fixture()
def config_for(tmp_path: Path):
    """Build a Config whose store lives in tmp_path (and only the given stages)."""
    from scenewatch.config import load_config

    def build(stages: list[str] | None = None, **overrides: object):
        data: dict = {"store": {"path": str(tmp_path / "timeline.db")}}
        if stages is not None:
            data["perception"] = {"stages": stages}
        data.update(overrides)
        return load_config(None, data)

    return build
