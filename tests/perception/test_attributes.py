"""Attributes from pixels: colour names on rendered objects of known colour, direction, size, text."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("cv2")

from scenewatch.perception.attributes import BASIC_COLOURS, box_size, describe, motion_of, object_colour
from synth.vision import COLOURS, _colour, _shape_mask, _texture


@pytest.mark.parametrize("seed", [101, 202])
def test_colour_names_on_textured_shapes_over_a_busy_background(seed: int) -> None:
    """Held-out seeds: colours drawn from HSV families (not from the namer's CIELAB focal colours)."""
    rng = random.Random(seed)
    right = total = 0
    wrong = []
    for _ in range(3):
        for name in COLOURS:
            bg = np.random.default_rng(rng.randrange(1 << 20)).uniform(40, 220, 3)
            img = np.empty((200, 200, 3), np.float32)
            img[:] = bg
            w, h = rng.randint(40, 110), rng.randint(40, 110)
            shape = rng.choice(["rect", "ellipse", "triangle", "poly"])
            tex = _texture(rng.choice(["plain", "stripes", "speckle"]), _colour(rng, name), w, h, seed)
            alpha = _shape_mask(shape, w, h, seed)[..., None]
            x, y = rng.randint(10, 190 - w), rng.randint(10, 190 - h)
            img[y:y + h, x:x + w] = img[y:y + h, x:x + w] * (1 - alpha) + tex * alpha
            img += np.random.default_rng(seed).normal(0, 3, img.shape)
            reading = object_colour(np.clip(img, 0, 255).astype(np.uint8), (x, y, x + w, y + h))
            assert reading is not None and reading.name in BASIC_COLOURS
            total += 1
            right += reading.name == name
            if reading.name != name:
                wrong.append((name, reading.name, shape))
    assert right / total >= 0.9, wrong


def test_mask_restricts_colour_to_the_object() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    img[:] = (20, 160, 20)  # green around
    img[30:70, 30:70] = (230, 20, 30)  # a red square
    mask = np.zeros((60, 60), bool)
    mask[10:50, 10:50] = True
    reading = object_colour(img, (20, 20, 80, 80), mask)
    assert reading is not None and reading.name == "red" and reading.names == ["red"]


@pytest.mark.parametrize(("path", "want"), [
    ([(0, 10, 100, 60, 150), (2, 400, 110, 450, 160)], "left to right"),
    ([(0, 500, 100, 550, 150), (1, 300, 100, 350, 150), (2, 80, 105, 130, 155)], "right to left"),
    ([(0, 300, 300, 340, 340), (3, 305, 100, 345, 140)], "up"),
    ([(0, 300, 20, 340, 60), (3, 300, 250, 340, 290)], "down"),
    ([(0, 300, 150, 340, 190), (3, 280, 130, 360, 210)], "towards the camera"),
    ([(0, 280, 130, 360, 210), (3, 300, 150, 340, 190)], "away from the camera"),
    ([(0, 300, 150, 340, 190), (5, 302, 151, 342, 191)], "still"),
])
def test_direction_of_linear_motion(path: list[tuple[float, ...]], want: str) -> None:
    # dense samples along each piecewise-linear path, with detector-like jitter
    rng = np.random.default_rng(3)
    ts = np.linspace(path[0][0], path[-1][0], 12)
    samples = [[t, *(np.interp(t, [p[0] for p in path], [p[k] for p in path]) + rng.normal(0, 1.5)
                     for k in range(1, 5))] for t in ts]
    motion = motion_of(samples, 640, 360)
    assert motion is not None and motion.direction == want


def test_size_and_text() -> None:
    assert box_size([0, 0, 64, 36], 640, 360) == (2304.0, 0.01)
    text = describe("sports ball", ["ball"], "blue", "left to right")
    assert text == "sports ball (ball, blue, moving left to right)"
    assert describe("car") == "car"
