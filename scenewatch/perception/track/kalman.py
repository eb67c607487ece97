"""Constant-velocity Kalman filter over one box, predicting over the real time between keyframes.

The state is the box corners and their velocities, ``[x1, y1, x2, y2, vx1, vy1, vx2, vy2]``
(column vector, float64); a detection measures the four corners directly. Corners rather than
centre/aspect let a box change shape (a person bending, a door opening) without a model of it.

Noise follows the ByteTrack tuning as ``trackers`` 2.6.1 (Roboflow) applies it to corner state:
unit initial covariance, measurement noise ``0.1`` and process noise ``0.01`` per reference step
of 1/30 s (the frame rate the MOT17 tuning assumes). Keyframes arrive seconds apart and
unevenly, so a prediction over ``dt`` reference steps uses the transition ``x += dt·v`` and, away
from one nominal step, the discrete white-noise-acceleration process noise
(``σ²·dt⁴/4`` on position, ``σ²·dt³/2`` across, ``σ²·dt²`` on velocity; Bar-Shalom, *Estimation
with Applications to Tracking and Navigation*, 2001), so a box unseen for long is allowed to
have drifted far. The measurement update uses the Joseph form, which keeps the covariance
symmetric and positive definite.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

REFERENCE_RATE = 30.0  # reference steps per second that the noise figures below are tuned for
MEASUREMENT_NOISE = 0.1  # variance of a detected corner, per coordinate
PROCESS_NOISE = 0.01  # variance added per reference step, per state entry (and acceleration σ²)
NOMINAL_STEP_TOLERANCE = 0.004 * REFERENCE_RATE  # a step this close to 1 keeps the tuned noise as is

_DIM_X, _DIM_Z = 8, 4
_R = np.eye(_DIM_Z) * MEASUREMENT_NOISE  # a detection measures the corners (H = [I 0])
_Q_NOMINAL = np.eye(_DIM_X) * PROCESS_NOISE
_I = np.eye(_DIM_X)


def transition(steps: float) -> NDArray[np.float64]:
    """State transition over ``steps`` reference steps: each corner moves by ``steps`` × its velocity."""
    f = np.eye(_DIM_X)
    f[np.arange(4), np.arange(4, 8)] = steps
    return f


def process_noise(steps: float) -> NDArray[np.float64]:
    """Process noise for a prediction over ``steps`` reference steps.

    Within :data:`NOMINAL_STEP_TOLERANCE` of one step the tuned per-step noise is kept; otherwise
    each corner/velocity pair gets the white-noise-acceleration block with ``σ² = PROCESS_NOISE``.
    """
    if abs(steps - 1.0) <= NOMINAL_STEP_TOLERANCE:
        return _Q_NOMINAL.copy()
    dt2 = steps * steps
    dt3 = dt2 * steps
    dt4 = dt2 * dt2
    q = np.zeros((_DIM_X, _DIM_X))
    pos, vel = np.arange(4), np.arange(4, 8)
    q[pos, pos] = PROCESS_NOISE * dt4 / 4.0
    q[pos, vel] = q[vel, pos] = PROCESS_NOISE * dt3 / 2.0
    q[vel, vel] = PROCESS_NOISE * dt2
    return q


@lru_cache(maxsize=16)
def _motion(steps: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transition and process noise for one gap, shared by every track predicted over it."""
    f, q = transition(steps), process_noise(steps)
    f.flags.writeable = q.flags.writeable = False
    return f, q


class BoxKalman:
    """Kalman filter of one tracked box.

    Args:
        box: first observed ``[x1, y1, x2, y2]``; velocities start at zero.
    """

    def __init__(self, box: NDArray[np.floating[Any]]) -> None:
        self.state: NDArray[np.float64] = np.zeros((_DIM_X, 1))
        self.state[:_DIM_Z] = np.asarray(box, np.float64).reshape(_DIM_Z, 1)
        self.covariance: NDArray[np.float64] = np.eye(_DIM_X)

    @property
    def box(self) -> NDArray[np.float64]:
        """Current ``[x1, y1, x2, y2]`` estimate (after the last predict or update)."""
        return self.state[:_DIM_Z].reshape(_DIM_Z)

    def predict(self, steps: float) -> None:
        """Advance the state by ``steps`` reference steps (``seconds × REFERENCE_RATE``)."""
        f, q = _motion(steps)
        self.state = f @ self.state
        self.covariance = f @ self.covariance @ f.T + q

    def update(self, box: NDArray[np.floating[Any]]) -> None:
        """Correct the state with an observed ``[x1, y1, x2, y2]``."""
        z = np.asarray(box, np.float64).reshape(_DIM_Z, 1)
        # With H = [I 0], H·x, P·Hᵀ and H·P·Hᵀ are slices of x and P.
        innovation = z - self.state[:_DIM_Z]
        pht = self.covariance[:, :_DIM_Z]
        gain = pht @ np.linalg.inv(pht[:_DIM_Z] + _R)
        self.state = self.state + gain @ innovation
        i_kh = _I.copy()
        i_kh[:, :_DIM_Z] -= gain
        self.covariance = i_kh @ self.covariance @ i_kh.T + gain @ _R @ gain.T
