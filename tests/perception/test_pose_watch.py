"""``watch`` with ``perception.pose.enabled`` on a rendered fall: posture on the track, one "person fell" event."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
av = pytest.importorskip("av")

from scenewatch.config import load_config  # noqa: E402
from scenewatch.errors import BackendUnavailable  # noqa: E402
from scenewatch.memory.store import TimelineStore  # noqa: E402
from scenewatch.payloads import ObjectPayload  # noqa: E402
from scenewatch.perception.pose.annotate import FELL_LABEL  # noqa: E402
from scenewatch.runtime import service  # noqa: E402
from tests.perception.pose_scene import render_fall  # noqa: E402


def _write(path: Path, seed: int) -> tuple[float, float]:
    frames, truth = render_fall(seed, fps=10, seconds=10)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 960, 540, "yuv420p"
        for _, img, _ in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert truth.tip_start is not None and truth.flat_at is not None
    return truth.tip_start, truth.flat_at


def test_fall_in_a_watched_clip_fires_one_event(tmp_path: Path) -> None:
    clip = tmp_path / "fall.mp4"
    tip_start, flat_at = _write(clip, seed=10)
    config = load_config(None, {
        "store": {"path": str(tmp_path / "t.db")},
        "concepts": ["person"],
        "perception": {"stages": ["objects"], "pose": {"enabled": True}},
        "triggers": {"rules": [{"name": "fall", "kind": "motion", "label": FELL_LABEL, "severity": "critical"}]},
    })
    try:
        service.watch(str(clip), config)
    except BackendUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"weights missing under CI: {exc}")
        pytest.skip(f"weights unavailable: {exc}")
    with TimelineStore(config.store.path) as store:
        people = store.observations(kinds=["object"], label="person")
        falls = store.observations(kinds=["motion"], label=FELL_LABEL)
        events = [e for e in store.events() if e.rule == "fall"]
    assert len(people) == 1  # one track through the fall
    payload = people[0].payload
    assert isinstance(payload, ObjectPayload) and payload.posture == "lying"
    assert len(falls) == 1 and falls[0].track_id == people[0].track_id
    assert tip_start - 0.6 <= falls[0].start <= flat_at
    assert len(events) == 1 and events[0].severity == "critical"
