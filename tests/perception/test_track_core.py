"""The numpy ByteTrack core: Kalman prediction over uneven gaps, exact assignment, two-stage matching."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from scenewatch.perception.track.assignment import linear_assignment, match
from scenewatch.perception.track.bytetrack_core import ByteTrackCore, association_iou
from scenewatch.perception.track.kalman import PROCESS_NOISE, REFERENCE_RATE, BoxKalman, process_noise


def _truth(t: float) -> np.ndarray:
    """A box moving at (40, -15) px/s while growing 6 px/s wide: the constant-velocity ground truth."""
    return np.array([100 + 40 * t, 200 - 15 * t, 160 + 46 * t, 320 - 15 * t])


def test_kalman_predicts_over_uneven_gaps() -> None:
    times = [0.0, 0.3, 1.1, 1.4, 2.6, 3.0, 4.7, 5.0]
    kf = BoxKalman(_truth(0.0))
    for prev, t in itertools.pairwise(times):
        kf.predict((t - prev) * REFERENCE_RATE)
        kf.update(_truth(t))
    # Velocity learnt from uneven samples carries the box over a long unseen gap and a short one.
    for gap in (0.2, 2.5):
        ahead = BoxKalman(_truth(0.0))
        ahead.state, ahead.covariance = kf.state.copy(), kf.covariance.copy()
        ahead.predict(gap * REFERENCE_RATE)
        moved = np.abs(_truth(times[-1] + gap) - _truth(times[-1])).max()
        assert np.abs(ahead.box - _truth(times[-1] + gap)).max() < 0.05 * moved, gap
    # The longer the gap, the less certain the position; the covariance stays symmetric.
    spread = []
    for gap in (0.2, 1.0, 2.5):
        ahead = BoxKalman(_truth(0.0))
        ahead.state, ahead.covariance = kf.state.copy(), kf.covariance.copy()
        ahead.predict(gap * REFERENCE_RATE)
        assert np.allclose(ahead.covariance, ahead.covariance.T)
        spread.append(float(ahead.covariance[0, 0]))
    assert spread[0] < spread[1] < spread[2]


def test_process_noise_is_nominal_at_one_step_and_white_acceleration_over_a_gap() -> None:
    assert np.array_equal(process_noise(1.0), np.eye(8) * PROCESS_NOISE)
    q = process_noise(20.0)
    assert q[0, 0] == pytest.approx(PROCESS_NOISE * 20**4 / 4)
    assert q[0, 4] == q[4, 0] == pytest.approx(PROCESS_NOISE * 20**3 / 2)
    assert q[4, 4] == pytest.approx(PROCESS_NOISE * 20**2)
    assert q[0, 1] == 0.0 and np.all(np.linalg.eigvalsh(q) >= -1e-9)


def _brute_force_best(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        return min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    return min(sum(cost[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))


def test_assignment_is_optimal_against_brute_force() -> None:
    rng = np.random.default_rng(2024)
    for trial in range(300):
        n, m = (int(x) for x in rng.integers(1, 7, 2))
        cost = rng.random((n, m)) if trial % 2 else rng.integers(0, 4, (n, m)).astype(float)  # ties too
        for maximize in (False, True):
            rows, cols = linear_assignment(cost, maximize=maximize)
            assert len(rows) == min(n, m) and len(set(rows.tolist())) == len(set(cols.tolist())) == len(rows)
            assert list(rows) == sorted(rows)
            total = float(cost[rows, cols].sum())
            best = -_brute_force_best(-cost) if maximize else _brute_force_best(cost)
            assert total == pytest.approx(best, abs=1e-9), (cost, maximize)


def test_assignment_rejects_bad_input_and_handles_empty() -> None:
    rows, cols = linear_assignment(np.zeros((0, 3)))
    assert rows.size == cols.size == 0
    with pytest.raises(ValueError):
        linear_assignment(np.array([[0.0, np.nan]]))


def test_match_keeps_only_pairs_over_the_floor() -> None:
    sim = np.array([[0.9, 0.0, 0.0], [0.0, 0.05, 0.0]], np.float32)
    pairs, rows, cols = match(sim, 0.1)
    assert pairs == [(0, 0)] and rows == [1] and cols == [1, 2]


def test_association_iou_known_value_and_empty() -> None:
    iou = association_iou(np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([[5.0, 5.0, 15.0, 15.0], [20, 20, 30, 30]]))
    assert iou.dtype == np.float32 and iou[0, 0] == pytest.approx(25 / 175) and iou[0, 1] == 0.0
    assert association_iou(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)


class Named:
    """A core whose new tracks the test names 100, 101, … (what ``ByteTrack`` does with global ids)."""

    def __init__(self, hold_seconds: float = 2.0) -> None:
        self.core = ByteTrackCore(high_score=0.5, min_iou=0.1, hold_seconds=hold_seconds)
        self.names = itertools.count(100)

    def step(self, boxes: list[list[float]], scores: list[float], t: float | None) -> tuple[list[int], list[int]]:
        """One update: (ids per box, rows that started a track)."""
        ids, spawned = self.core.update(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32), t)
        for row, track in spawned:
            track.track_id = ids[row] = next(self.names)
        return ids.tolist(), [row for row, _ in spawned]


def test_low_score_frame_keeps_the_track_and_starts_none() -> None:
    tr = Named()
    assert tr.step([[100, 100, 160, 220]], [0.9], 0.0) == ([100], [0])
    # Half hidden: the detector's score dips under the high threshold; stage 2 keeps the track.
    assert tr.step([[106, 100, 166, 220]], [0.3], 0.5) == ([100], [])
    assert tr.step([[112, 100, 172, 220]], [0.8], 1.0) == ([100], [])
    # A low-score box far from every track starts nothing.
    assert tr.step([[118, 100, 178, 220], [400, 50, 450, 100]], [0.8, 0.3], 1.5) == ([100, -1], [])
    assert len(tr.core.tracks) == 1


def test_low_score_boxes_only_extend_tracks_left_over_by_high_ones() -> None:
    tr = Named()
    tr.step([[0, 0, 50, 50], [200, 0, 250, 50]], [0.9, 0.9], 0.0)
    # The high box is nearer the first track, the low one overlaps both; each track gets one box.
    ids, new = tr.step([[2, 0, 52, 50], [30, 0, 230, 50]], [0.9, 0.3], 0.4)
    assert ids == [100, 101] and new == []


def test_track_expires_after_hold_seconds_of_media_time() -> None:
    tr = Named()
    tr.step([[0, 0, 50, 50]], [0.9], 10.0)
    tr.step([], [], 11.9)  # unseen 1.9 s: kept
    assert len(tr.core.tracks) == 1
    assert tr.step([[0, 0, 50, 50]], [0.9], 11.95) == ([100], [])
    tr.step([], [], 13.0)
    tr.step([], [], 14.0)  # unseen 2.05 s > hold: dropped before it could match again
    assert tr.core.tracks == []
    assert tr.step([[0, 0, 50, 50]], [0.9], 14.5) == ([101], [0])  # a new track


def test_untimed_updates_count_reference_steps_and_bad_times_are_skipped() -> None:
    tr = Named(hold_seconds=0.1)  # 3 untimed updates
    tr.step([[0, 0, 50, 50]], [0.9], None)
    for _ in range(3):
        tr.step([], [], None)
    assert len(tr.core.tracks) == 1
    tr.step([], [], None)
    assert tr.core.tracks == []

    tr = Named()
    tr.step([[0, 0, 50, 50]], [0.9], 5.0)
    assert tr.step([[0, 0, 50, 50]], [0.9], 4.0) == ([-1], [])  # backwards: nothing happens
    assert tr.step([[1, 0, 51, 50]], [0.9], 5.0) == ([100], [])  # same instant: matched, not moved
    assert tr.core.tracks[0].unseen_seconds == 0.0 and len(tr.core.tracks) == 1


def test_tracker_imports_no_scipy_supervision_or_trackers() -> None:
    code = ("import sys, numpy as np\n"
            "from scenewatch.perception.track.bytetrack import ByteTrack\n"
            "from scenewatch.types import Detections\n"
            "d = Detections(np.array([[0, 0, 9, 9]], np.float32), np.array([0.9], np.float32), ('cup',))\n"
            "assert ByteTrack().update(d, 0.0).track_ids.tolist() == [1]\n"
            "print(sorted(m for m in ('scipy', 'supervision', 'trackers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
