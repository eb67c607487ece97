"""Randomised, seeded scenes for class-less perception: things that arrive, rest and leave.

Every scene (640×360) has a textured backdrop, gradual lighting drift and sensor noise;
objects of random shapes, colours, sizes and textures (none of them a COCO class) that slide
into place, rest and slide out (or are simply taken away) at random times and places;
objects that belong to the backdrop from the start and are removed; moving distractors that
cross the frame without stopping; and a person (a real crop of the bedroom clip, so the
detector sees a person) who walks in, stands still with a slight sway, and walks out.
The truth comes from the renderer's own parameters.

Example:
    >>> scene = make_scene(3)
    >>> frames = list(scene.frames())        # (t, RGB image) at scene.fps
    >>> scene.truth.arrivals[0].rest_start  # doctest: +SKIP
"""

from __future__ import annotations

import colorsys
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

WIDTH, HEIGHT = 640, 360
BEDROOM = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "video" / "sam2_bedroom.mp4"
PERSON_BOX = (314, 13, 515, 396)  # the girl standing on the bed at t = 0 s of the bedroom clip

#: Colour families in HSV (hue degrees, saturation, value ranges), independent of the Lab namer.
COLOURS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "red": ((-8, 6), (0.75, 1.0), (0.6, 1.0)),
    "orange": ((24, 34), (0.8, 1.0), (0.9, 1.0)),
    "yellow": ((50, 60), (0.7, 1.0), (0.85, 1.0)),
    "green": ((100, 140), (0.6, 1.0), (0.4, 0.9)),
    "blue": ((205, 235), (0.6, 1.0), (0.5, 1.0)),
    "purple": ((270, 290), (0.5, 0.9), (0.4, 0.8)),
    "pink": ((320, 345), (0.3, 0.5), (0.92, 1.0)),
    "brown": ((22, 34), (0.6, 0.85), (0.3, 0.5)),
    "white": ((0, 360), (0.0, 0.06), (0.92, 1.0)),
    "black": ((0, 360), (0.0, 0.2), (0.0, 0.13)),
    "grey": ((0, 360), (0.0, 0.06), (0.42, 0.62)),
}
Box = tuple[float, float, float, float]
NOISE_BANK = 24


@dataclass(frozen=True)
class Thing:
    """One rendered object: its look and its path (positions are box top-left corners)."""

    shape: str
    colour: str
    rgb: tuple[int, int, int]
    texture: str
    w: int
    h: int
    path: tuple[tuple[float, float, float], ...]  # (t, x, y) keyframes of a piecewise-linear path
    visible: tuple[float, float]

    def box_at(self, t: float) -> Box | None:
        """Box at time ``t`` (``None`` when not in the scene)."""
        if not self.visible[0] <= t < self.visible[1]:
            return None
        ts = [p[0] for p in self.path]
        x = float(np.interp(t, ts, [p[1] for p in self.path]))
        y = float(np.interp(t, ts, [p[2] for p in self.path]))
        return (x, y, x + self.w, y + self.h)


@dataclass(frozen=True)
class Change:
    """A truth arrival (``rest_start`` … ``rest_end``) or a removal of a backdrop object (``rest_end``)."""

    box: Box
    colour: str
    rest_start: float | None
    rest_end: float | None


@dataclass(frozen=True)
class Crossing:
    """A distractor's linear crossing, its direction and its path (``thing``)."""

    start: float
    end: float
    direction: str
    colour: str
    thing: Thing


@dataclass
class VisionTruth:
    """What happened in a scene."""

    duration: float
    arrivals: list[Change] = field(default_factory=list)
    removals: list[Change] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)
    person: tuple[float, float, float] | None = None  # enters, stands from, leaves (s)


def _colour(rng: random.Random, name: str) -> tuple[int, int, int]:
    (h0, h1), (s0, s1), (v0, v1) = COLOURS[name]
    r, g, b = colorsys.hsv_to_rgb((rng.uniform(h0, h1) % 360) / 360, rng.uniform(s0, s1), rng.uniform(v0, v1))
    return round(r * 255), round(g * 255), round(b * 255)


def _shape_mask(shape: str, w: int, h: int, rng_seed: int) -> NDArray[np.float32]:
    import cv2

    m = np.zeros((h, w), np.uint8)
    if shape == "rect":
        m[:] = 1
    elif shape == "ellipse":
        cv2.ellipse(m, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 1, -1)
    elif shape == "triangle":
        cv2.fillPoly(m, [np.array([[w // 2, 0], [w - 1, h - 1], [0, h - 1]], np.int32)], 1)
    else:  # a random convex-ish polygon
        r = np.random.default_rng(rng_seed)
        ang = np.sort(r.uniform(0, 2 * np.pi, 7))
        pts = np.stack([w / 2 + (w / 2 - 1) * np.cos(ang) * r.uniform(0.7, 1, 7),
                        h / 2 + (h / 2 - 1) * np.sin(ang) * r.uniform(0.7, 1, 7)], 1)
        cv2.fillPoly(m, [pts.astype(np.int32)], 1)
    return cv2.GaussianBlur(m.astype(np.float32), (3, 3), 0)


def _texture(kind: str, rgb: tuple[int, int, int], w: int, h: int, seed: int) -> NDArray[np.float32]:
    base = np.ones((h, w, 3), np.float32) * np.array(rgb, np.float32)
    r = np.random.default_rng(seed)
    if kind == "stripes":
        yy = np.arange(h)[:, None] + np.arange(w)[None, :] * r.uniform(-1, 1)
        shade = np.where((yy // r.integers(5, 12)) % 2 == 0, 1.0, 0.85)
        base *= shade[..., None]
    elif kind == "speckle":
        base *= r.uniform(0.88, 1.05, (h, w, 1)).astype(np.float32)
    elif kind == "sphere":  # a shaded ball lit from the upper left, with a highlight
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        nx, ny = (xx + 0.5) / w * 2 - 1, (yy + 0.5) / h * 2 - 1
        nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
        light = np.clip(-0.4 * nx - 0.5 * ny + 0.77 * nz, 0, 1)
        base *= (0.35 + 0.75 * light)[..., None]
        base += (255 * np.clip(light - 0.9, 0, 1) * 6)[..., None]
        base = np.clip(base, 0, 255)
    return base


@lru_cache(maxsize=2)
def person_sprite(height: int) -> NDArray[np.uint8]:
    """A real person (the girl standing on the bed, bedroom clip) resized to ``height`` px."""
    import av
    from PIL import Image

    with av.open(str(BEDROOM)) as c:
        img = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")
    x1, y1, x2, y2 = PERSON_BOX
    crop = Image.fromarray(img[y1:y2, x1:x2])
    w = round(crop.width * height / crop.height)
    return np.asarray(crop.resize((w, height), Image.Resampling.BILINEAR))


@dataclass
class VisionScene:
    """A seeded scene: call :meth:`frames` to render it."""

    seed: int
    fps: float
    truth: VisionTruth
    backdrop: NDArray[np.float32]
    things: list[tuple[Thing, NDArray[np.float32], NDArray[np.float32]]]  # thing, texture, alpha mask
    person: tuple[float, float, float, float, float, float] | None  # t_in, t_stand, t_leave, t_out, x_stand, y
    light: tuple[float, float, float, float]  # amplitude, period, phase, left-right tilt
    noise: float

    def frames(self) -> Iterator[tuple[float, NDArray[np.uint8]]]:
        """``(t, H×W×3 uint8 RGB)`` for every frame."""
        rng = np.random.default_rng(self.seed + 1000)
        # sensor noise: a bank of independent noise frames drawn at random (cheaper than fresh noise)
        bank = [rng.standard_normal((HEIGHT, WIDTH, 3), dtype=np.float32) * self.noise for _ in range(NOISE_BANK)]
        xs = np.linspace(-1, 1, WIDTH, dtype=np.float32)[None, :, None]
        for i in range(int(self.truth.duration * self.fps)):
            t = i / self.fps
            img = self.backdrop.copy()
            for thing, tex, alpha in self.things:
                box = thing.box_at(t)
                if box is not None:
                    _paste(img, tex, alpha, box, shadow=True)
            if self.person is not None:
                _paste_person(img, self.person, t)
            amp, period, phase, tilt = self.light
            gain = 1.0 + amp * np.sin(2 * np.pi * t / period + phase) + tilt * xs * (t / self.truth.duration)
            img = img * gain + bank[int(rng.integers(NOISE_BANK))]
            yield t, np.clip(img, 0, 255).astype(np.uint8)


def _paste(img: NDArray[np.float32], tex: NDArray[np.float32], alpha: NDArray[np.float32], box: Box,
           shadow: bool) -> None:
    h, w = alpha.shape
    x, y = round(box[0]), round(box[1])
    x1, y1, x2, y2 = max(0, x), max(0, y), min(WIDTH, x + w), min(HEIGHT, y + h)
    if x2 <= x1 or y2 <= y1:
        return
    a = alpha[y1 - y:y2 - y, x1 - x:x2 - x, None]
    if shadow:  # a soft shadow down and to the right (MOG2 should call it a shadow)
        sx1, sy1, sx2, sy2 = min(WIDTH, x1 + 6), min(HEIGHT, y1 + 6), min(WIDTH, x2 + 6), min(HEIGHT, y2 + 6)
        sa = alpha[: sy2 - sy1, : sx2 - sx1, None]
        img[sy1:sy2, sx1:sx2] *= 1.0 - 0.3 * sa
    img[y1:y2, x1:x2] = img[y1:y2, x1:x2] * (1 - a) + tex[y1 - y:y2 - y, x1 - x:x2 - x] * a


def _paste_person(img: NDArray[np.float32], p: tuple[float, float, float, float, float, float], t: float) -> None:
    t_in, t_stand, t_leave, t_out, x_stand, y = p
    if not t_in <= t < t_out:
        return
    sprite = person_sprite(200).astype(np.float32)
    if t < t_stand:
        x = -sprite.shape[1] + (x_stand + sprite.shape[1]) * (t - t_in) / (t_stand - t_in)
    elif t < t_leave:
        x = x_stand + 1.5 * np.sin(2 * np.pi * t / 3.0)  # nobody stands perfectly still
    else:
        x = x_stand + (WIDTH - x_stand) * (t - t_leave) / (t_out - t_leave)
    _paste(img, sprite, np.ones(sprite.shape[:2], np.float32), (x, y, x + sprite.shape[1], y + sprite.shape[0]),
           shadow=False)


def _backdrop(rng: random.Random) -> NDArray[np.float32]:
    import cv2

    r = np.random.default_rng(rng.randrange(1 << 30))
    top, bottom = r.uniform(90, 210, 3), r.uniform(50, 170, 3)
    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    img = (top * (1 - y) + bottom * y) * np.ones((HEIGHT, WIDTH, 1), np.float32)
    for _ in range(rng.randint(3, 8)):  # furniture-like blocks
        x1, y1 = rng.randrange(0, WIDTH - 60), rng.randrange(0, HEIGHT - 40)
        img[y1:y1 + rng.randint(20, 120), x1:x1 + rng.randint(30, 200)] = r.uniform(40, 220, 3)
    grain = cv2.GaussianBlur(r.normal(0, 8, (HEIGHT, WIDTH, 1)).astype(np.float32), (0, 0), 2)
    return np.clip(img + grain.reshape(HEIGHT, WIDTH, 1), 0, 255).astype(np.float32)


def _free(box: Box, taken: list[Box], margin: float = 20) -> bool:
    return all(box[2] + margin < o[0] or o[2] + margin < box[0] or box[3] + margin < o[1] or o[3] + margin < box[1]
               for o in taken)


def make_scene(seed: int, fps: float = 10.0, duration: float | None = None) -> VisionScene:
    """Build scene ``seed`` (30–120 s, or ``duration``) and its truth."""
    rng = random.Random(seed)
    dur = duration if duration is not None else float(rng.randint(30, 120))
    truth = VisionTruth(dur)
    things: list[tuple[Thing, NDArray[np.float32], NDArray[np.float32]]] = []
    backdrop = _backdrop(rng)
    taken: list[Box] = []
    person = None
    if rng.random() < 0.8:  # a person walks in, stands still, walks out
        t_in = rng.uniform(1, dur * 0.4)
        stand = rng.uniform(5, min(20, dur * 0.4))
        x = rng.uniform(60, WIDTH - 200)
        y = HEIGHT - 200 - rng.uniform(0, 30)
        person = (t_in, t_in + 1.5, t_in + 1.5 + stand, t_in + 3.0 + stand, x, y)
        truth.person = (t_in, t_in + 1.5, t_in + 1.5 + stand)
        taken.append((x - 20, y, x + 150, y + 200))

    def new_thing(kind: str, t0: float, t1: float) -> tuple[Thing, Box] | None:
        w, h = rng.randint(30, 110), rng.randint(30, 110)
        for _ in range(30):
            x, y = rng.uniform(10, WIDTH - w - 10), rng.uniform(40, HEIGHT - h - 10)
            box = (x, y, x + w, y + h)
            if _free(box, taken):
                break
        else:
            return None
        colour = rng.choice(list(COLOURS))
        rgb = _colour(rng, colour)
        if kind == "removed":
            path: tuple[tuple[float, float, float], ...] = ((0.0, x, y), (dur, x, y))
            return Thing(rng.choice(["rect", "ellipse", "triangle", "poly"]), colour, rgb,
                         rng.choice(["plain", "stripes", "speckle"]), w, h, path, (0.0, t1)), box
        slide = rng.uniform(0.5, 1.5)
        dx, dy = rng.choice([(-1, 0), (1, 0), (0, 1)])
        dist = rng.uniform(80, 200)
        sx, sy = x + dx * dist, y + dy * dist
        path = ((t0 - slide, sx, sy), (t0, x, y), (t1, x, y), (t1 + slide, sx, sy))
        return Thing(rng.choice(["rect", "ellipse", "triangle", "poly"]), colour, rgb,
                     rng.choice(["plain", "stripes", "speckle"]), w, h, path, (t0 - slide, t1 + slide)), box

    for _ in range(rng.randint(2, 4)):  # arrivals that rest, most of them leave again
        t0 = rng.uniform(3, dur - 8)
        t1 = min(dur + 5, t0 + rng.uniform(6, 40))
        got = new_thing("arrival", t0, t1)
        if got is not None:
            thing, box = got
            taken.append(box)
            things.append((thing, _texture(thing.texture, thing.rgb, thing.w, thing.h, seed),
                           _shape_mask(thing.shape, thing.w, thing.h, seed)))
            truth.arrivals.append(Change(box, thing.colour, t0, t1 if t1 < dur - 1.5 else None))
    if rng.random() < 0.5:  # something that was always there is taken away
        t1 = rng.uniform(8, dur - 4)
        got = new_thing("removed", 0.0, t1)
        if got is not None:
            thing, box = got
            taken.append(box)
            things.append((thing, _texture(thing.texture, thing.rgb, thing.w, thing.h, seed),
                           _shape_mask(thing.shape, thing.w, thing.h, seed)))
            truth.removals.append(Change(box, thing.colour, None, t1))
    for _ in range(rng.randint(1, 4)):  # distractors crossing the frame, never stopping
        size = rng.randint(34, 70)
        t0 = rng.uniform(0.5, dur - 6)
        span = rng.uniform(2, 5)
        y = rng.uniform(20, HEIGHT - size - 20)
        direction = rng.choice(["left to right", "right to left"])
        xa, xb = -size - 5.0, WIDTH + 5.0
        if direction == "right to left":
            xa, xb = xb, xa
        colour = rng.choice(list(COLOURS))
        thing = Thing("ellipse", colour, _colour(rng, colour), "sphere", size, size,
                      ((t0, xa, y), (t0 + span, xb, y + rng.uniform(-20, 20))), (t0, t0 + span))
        things.append((thing, _texture("sphere", thing.rgb, size, size, seed), _shape_mask("ellipse", size, size, 0)))
        truth.crossings.append(Crossing(t0, t0 + span, direction, colour, thing))
    light = (rng.uniform(0.03, 0.12), rng.uniform(40, 200), rng.uniform(0, 2 * np.pi), rng.uniform(-0.08, 0.08))
    return VisionScene(seed, fps, truth, backdrop, things, person, light, rng.uniform(1.5, 5.0))
