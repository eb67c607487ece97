"""A synthetic scene for detection/tracking tests: a real person crop moving across a background.

The crop is cut from a real frame of ``video/sam2_bedroom.mp4`` (the girl at t = 6 s, box found
by hand and checked against the detector), pasted with its exact rectangle so the generated
ground-truth box of every frame is known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BEDROOM = FIXTURES / "video" / "sam2_bedroom.mp4"
GIRL_FRAME = 180  # t = 6.0 s
GIRL_BOX = (316, 29, 513, 400)  # x1, y1, x2, y2 in the 960x540 frame
STILL_FRAME = 0  # the same girl at t = 0 s, standing on the bed
STILL_BOX = (314, 13, 515, 396)


def bedroom_frame(index: int) -> NDArray[np.uint8]:
    """One decoded RGB frame of the bedroom clip."""
    with av.open(str(BEDROOM)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return np.ascontiguousarray(f.to_ndarray(format="rgb24"))
    raise IndexError(index)


def background(width: int, height: int) -> NDArray[np.uint8]:
    """A calm, person-free backdrop: a warm wall gradient with a darker floor band."""
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    wall = np.array([200, 190, 175], np.float32) * (0.85 + 0.15 * x) * np.ones((height, width, 1), np.float32)
    floor = np.array([120, 95, 70], np.float32)
    img = np.where(y > 0.8, floor, wall)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class SceneFrame:
    image: NDArray[np.uint8]
    t: float
    box: tuple[float, float, float, float]
    bystander: tuple[float, float, float, float] | None = None


def _crop(src: NDArray[np.uint8], box: tuple[int, int, int, int], height: int) -> NDArray[np.uint8]:
    from PIL import Image

    x1, y1, x2, y2 = box
    crop = src[y1:y2, x1:x2]
    width = round(crop.shape[1] * height / crop.shape[0])
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR))


def moving_person_scene(width: int = 640, height: int = 360, seconds: float = 4.0, fps: float = 5.0,
                        person_height: int = 260, bystander: bool = False) -> list[SceneFrame]:
    """The person crop moves left → right at constant speed; returns frames with exact boxes.

    With ``bystander`` a second, static person stands mid-scene and the walker crosses in
    front of them (partly hiding them for a few frames).
    """
    src = bedroom_frame(GIRL_FRAME)
    walker = _crop(src, GIRL_BOX, person_height)
    cw = walker.shape[1]
    bg = background(width, height)
    still_box = None
    if bystander:
        still = _crop(bedroom_frame(STILL_FRAME), STILL_BOX, person_height - 30)
        sl, st = width // 2 - still.shape[1] // 2, height - still.shape[0] - 40
        bg[st:st + still.shape[0], sl:sl + still.shape[1]] = still
        still_box = (float(sl), float(st), float(sl + still.shape[1]), float(st + still.shape[0]))
    n = int(seconds * fps)
    top = height - person_height - 20
    frames = []
    for i in range(n):
        left = round(i * (width - cw) / (n - 1))
        img = bg.copy()
        img[top:top + person_height, left:left + cw] = walker
        frames.append(SceneFrame(img, i / fps, (float(left), float(top), float(left + cw), float(top + person_height)),
                                 still_box))
    return frames
