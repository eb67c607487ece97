"""``watch`` with ``perception.faces.enabled``: enrolled people become the identity of person tracks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")
av = pytest.importorskip("av")

from scenewatch.config import load_config  # noqa: E402
from scenewatch.errors import BackendUnavailable  # noqa: E402
from scenewatch.memory.store import TimelineStore  # noqa: E402
from scenewatch.payloads import ObjectPayload  # noqa: E402
from scenewatch.runtime import people_service, service  # noqa: E402

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"


def _clip(path: Path, photos: list[str], seconds_each: float = 2.0, fps: int = 5) -> None:
    """A 640×480 clip showing each photo in turn on a grey wall, drifting a few pixels per frame."""
    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for name in photos:
            img = np.ascontiguousarray(cv2.imread(str(FACES / name))[:, :, ::-1])
            scale = 440 / img.shape[0]
            img = cv2.resize(img, (round(img.shape[1] * scale), 440), interpolation=cv2.INTER_AREA)
            x0 = int(rng.integers(20, 640 - img.shape[1] - 20))
            for i in range(int(seconds_each * fps)):
                frame = np.full((480, 640, 3), 110, np.uint8)
                x = x0 + i
                frame[40:480, x:x + img.shape[1]] = img
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_enrolled_person_is_the_identity_of_their_track(tmp_path: Path) -> None:
    config = load_config(None, {
        "store": {"path": str(tmp_path / "t.db")},
        "perception": {"stages": ["objects"], "faces": {"enabled": True}},
        "concepts": ["person"],
    })
    try:
        people_service.add_person(config, "Barack", [FACES / "obama.jpg"])
    except BackendUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"face weights missing under CI: {exc}")
        pytest.skip(f"face weights unavailable: {exc}")
    clip = tmp_path / "visitors.mp4"
    _clip(clip, ["obama3.jpg", "biden.jpg"])
    service.watch(str(clip), config)

    with TimelineStore(config.store.path) as store:
        people = store.observations(kinds=["object"], label="person")
    named = {}
    for obs in people:
        assert isinstance(obs.payload, ObjectPayload)
        named[obs.payload.identity] = (obs.start, obs.end, obs.payload.identity_score)
    assert "Barack" in named, named
    assert named["Barack"][1] <= 2.4  # the first visitor (0–2 s) only
    unknown = [k for k in named if k and k.startswith("unknown #")]
    assert len(unknown) == 1 and named[unknown[0]][0] >= 1.6, named  # the second visitor is not Barack
    listed = people_service.list_people(config)
    assert (listed[0].name, listed[0].faces) == ("Barack", 1)
    assert any(e.name is None and e.faces >= 1 for e in listed)  # the unknown face was kept to be named later
