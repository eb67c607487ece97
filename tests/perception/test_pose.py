"""Posture and "person fell" on rendered sequences of a real person crop (tests/perception/pose_scene.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")

from scenewatch.errors import BackendUnavailable
from scenewatch.perception.pose.annotate import FELL_LABEL, TrackPoses, fall_observation
from scenewatch.perception.pose.models import KEYPOINTS, Pose, PoseEstimator, decode_movenet
from scenewatch.perception.pose.posture import Fall, FallWatch, classify_posture
from scenewatch.perception.pose.settings import PoseSettings
from tests.perception.pose_scene import render_fall

# Seeds 0-3 were looked at while writing the classifier; these were not.
EVAL_SEEDS = [10, 11, 12, 13, 14]


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    try:
        return PoseEstimator()
    except BackendUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"movenet weights missing under CI: {exc}")
        pytest.skip(f"movenet weights unavailable: {exc}")


@dataclass
class _Track:
    track_id: int
    label: str = "person"
    boxes: list[tuple[float, list[float], float]] = field(default_factory=list)
    posture: str | None = None


def _run(estimator: PoseEstimator, seed: int, **kw: object) -> tuple[list[Fall], list[str | None], object]:
    frames, truth = render_fall(seed, **kw)  # type: ignore[arg-type]
    poses = TrackPoses(PoseSettings(enabled=True), estimator)
    track = _Track(1)
    falls: list[Fall] = []
    postures: list[str | None] = []
    for t, img, box in frames:
        track.boxes.append((t, box.tolist(), 0.9))
        falls += poses.annotate(t, img, [track])
        postures.append(track.posture)
    return falls, postures, truth


def test_decode_picks_the_centre_person_and_refines_with_offsets() -> None:
    heat = np.zeros((48, 48, 17), np.float32)
    centre = np.zeros((48, 48), np.float32)
    regress = np.zeros((48, 48, 34), np.float32)
    offset = np.zeros((48, 48, 34), np.float32)
    centre[20, 30] = 0.9
    centre[5, 5] = 0.5  # a weaker second person
    for k in range(17):
        regress[20, 30, 2 * k:2 * k + 2] = [k - 8, 1]        # keypoint k regressed to (12 + k, 31)
        heat[12 + k, 31, k] = 0.8                            # …and its heat peak is there
        heat[5, 5, k] = 0.9                                   # a brighter peak far away loses on distance
        offset[12 + k, 31, 2 * k:2 * k + 2] = [0.25, -0.5]
    yx, scores = decode_movenet(heat, centre, regress, offset)
    np.testing.assert_allclose(yx[:, 0], (np.arange(17) + 12 + 0.25) / 48, rtol=1e-6)
    np.testing.assert_allclose(yx[:, 1], np.full(17, 30.5 / 48), rtol=1e-6)
    np.testing.assert_allclose(scores, 0.8)


def _pose(points: dict[str, tuple[float, float]]) -> Pose:
    xy = np.zeros((17, 2), np.float32)
    sc = np.zeros(17, np.float32)
    for name, p in points.items():
        xy[KEYPOINTS.index(name)] = p
        sc[KEYPOINTS.index(name)] = 0.9
    return Pose(xy, sc)


def test_posture_geometry() -> None:
    upper = {"left_shoulder": (110, 100), "right_shoulder": (90, 100), "left_hip": (108, 180), "right_hip": (92, 180)}
    standing = _pose({**upper, "left_knee": (108, 260), "right_knee": (92, 260)})
    sitting = _pose({**upper, "left_knee": (170, 190), "right_knee": (165, 188)})  # thighs forward
    lying = _pose({"left_shoulder": (100, 300), "right_shoulder": (100, 320), "left_hip": (180, 302),
                   "right_hip": (180, 318), "left_knee": (260, 305), "right_knee": (260, 315)})
    assert classify_posture(standing, np.array([80, 80, 120, 340], np.float32)) == "standing"
    assert classify_posture(sitting, np.array([80, 80, 180, 240], np.float32)) == "sitting"
    assert classify_posture(lying, np.array([90, 290, 340, 330], np.float32)) == "lying"
    assert classify_posture(_pose({}), None) is None


def test_fall_watch_reports_once_and_rearms_only_after_getting_up() -> None:
    watch = FallWatch(fall_seconds=2.0, down_seconds=2.0)
    box = (0.0, 0.0, 10.0, 10.0)
    seq = [(0, "standing"), (1, "standing"), (1.5, None), (2, "lying"), (3, "lying"), (4, "lying"), (5, "lying"),
           (6, "standing"), (7, "lying"), (8, "lying"), (9.5, "lying")]
    falls = [f for t, p in seq if (f := watch.update(1, float(t), p, box)) is not None]
    assert [(f.upright_at, f.down_at, f.confirmed_at) for f in falls] == [(1.0, 2.0, 4.0), (6.0, 7.0, 9.5)]
    slow = FallWatch(fall_seconds=2.0, down_seconds=2.0)
    assert all(slow.update(2, float(t), p, box) is None
               for t, p in [(0, "standing"), (1, None), (2, None), (3, None), (4, "lying"), (8, "lying")])


@pytest.mark.parametrize("seed", EVAL_SEEDS)
def test_rendered_fall_gives_one_event(estimator: PoseEstimator, seed: int) -> None:
    falls, postures, truth = _run(estimator, seed)
    assert len(falls) == 1, (seed, postures)
    fall = falls[0]
    assert abs(fall.down_at - truth.flat_at) <= 1.0  # type: ignore[attr-defined]
    assert truth.tip_start - 0.5 <= fall.upright_at < fall.down_at <= truth.flat_at + 0.5  # type: ignore[attr-defined]
    assert postures[0] == "standing" and postures[-1] == "lying"
    obs = fall_observation(fall, "cam", None)
    assert (obs.kind, obs.label, obs.track_id) == ("motion", FELL_LABEL, 1)


@pytest.mark.parametrize("seed", EVAL_SEEDS[:2])
def test_standing_or_lying_down_slowly_is_not_a_fall(estimator: PoseEstimator, seed: int) -> None:
    falls, postures, _ = _run(estimator, seed, tips=False)
    assert falls == [] and postures.count("standing") >= 0.9 * len(postures), postures
    falls, postures, _ = _run(estimator, seed, tip_seconds=6.0, seconds=14.0)
    assert falls == [] and postures[-1] == "lying", postures
