"""A rendered fall: a real person crop (bedroom clip) standing, then tipping over to lying, seeded.

Truth comes from the renderer: when the person starts to tip, when they are flat, and their box
on every frame. Kept out of the package (tests only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from synth.vision import person_sprite


@dataclass(frozen=True)
class FallTruth:
    """When the fall starts and ends (s); ``None`` for a scene with no fall."""

    tip_start: float | None
    flat_at: float | None


def _angle(t: float, stand: float, tip: float) -> float:
    if t <= stand:
        return 0.0
    return 90.0 * min(1.0, (t - stand) / tip)


def render_fall(seed: int, *, fps: float = 5.0, tip_seconds: float | None = None, seconds: float = 10.0,
                tips: bool = True) -> tuple[list[tuple[float, NDArray[np.uint8], NDArray[np.float32]]], FallTruth]:
    """Frames ``(t, rgb, person box xyxy)`` of one person who stands and (``tips``) goes down.

    Args:
        seed: randomises position, size, direction, stand time, noise.
        fps: frames per second.
        tip_seconds: how long going from upright to flat takes (default: a fall, 0.4–1.0 s).
        seconds: clip length.
        tips: ``False`` renders a person who only stands (sways slightly).
    """
    import cv2

    rng = np.random.default_rng(seed)
    height = int(rng.integers(220, 300))
    sprite = person_sprite(height)
    sh, sw = sprite.shape[:2]
    W, H = 960, 540
    stand = float(rng.uniform(2.0, 4.0))
    tip = float(rng.uniform(0.4, 1.0)) if tip_seconds is None else tip_seconds
    direction = 1 if rng.random() < 0.5 else -1
    foot = np.array([rng.uniform(300, 660), rng.uniform(height + 20, H - 20)])
    wall = rng.uniform(70, 170, 3)
    out = []
    for i in range(int(seconds * fps)):
        t = i / fps
        angle = direction * _angle(t, stand, tip) if tips else float(2 * np.sin(t))
        # rotate the sprite about its feet (bottom centre), into the frame
        m = cv2.getRotationMatrix2D((sw / 2, sh), angle, 1.0)
        m[:, 2] += foot - np.array([sw / 2, sh])
        frame = np.empty((H, W, 3), np.float32)
        frame[:] = wall
        warped = cv2.warpAffine(sprite, m, (W, H), flags=cv2.INTER_LINEAR)
        mask = cv2.warpAffine(np.full((sh, sw), 255, np.uint8), m, (W, H), flags=cv2.INTER_NEAREST) > 0
        frame[mask] = warped[mask]
        frame += rng.normal(0, 3, frame.shape)
        ys, xs = np.nonzero(mask)
        box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
        out.append((t, np.clip(frame, 0, 255).astype(np.uint8), box))
    truth = FallTruth(stand, stand + tip) if tips else FallTruth(None, None)
    return out, truth
