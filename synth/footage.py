"""Seeded camera footage (H.264 + AAC files) for whole-pipeline speed runs: a busy and a quiet doorway.

Not imported by the package. Pictures come from :mod:`synth.vision` (textured backdrop, lighting
drift, sensor noise, non-COCO things that slide in and rest, shaded balls that cross, a real person
crop); labels on parcels are rendered with the DejaVu font of the fixtures; the sound bed comes
from :mod:`synth.audio`, doorbells and speech from the fixture clips (real English speech: JFK,
LibriSpeech, LJ Speech) plus English sentences spoken by espeak-ng when it is installed.

* :func:`busy_clip` — an event every 4–9 s: parcels with a printed label arrive, rest 10–40 s and
  leave, balls cross, a person walks in, stands and walks out, a bell rings; speech about a third
  of the time; a wall sign that never changes.
* :func:`quiet_clip` — a static doorway with sensor noise, slow light drift and a faint room tone,
  and one event every 5 minutes (a parcel put down; a ring at the door with a visitor).

Example:
    >>> clip = busy_clip(Path("/tmp/busy.mp4"), seconds=60, seed=1)  # doctest: +SKIP
    >>> clip.content["speech_fraction"] > 0.3                         # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from synth.audio import SR, background, mix_at
from synth.text import LATIN_FONT, SENTENCES, WORDS
from synth.vision import (
    COLOURS,
    HEIGHT,
    NOISE_BANK,
    WIDTH,
    Thing,
    _backdrop,
    _colour,
    _paste,
    _paste_person,
    _shape_mask,
    _texture,
    person_sprite,
)

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
SPEECH_CLIPS = ("speech/jfk_16k_mono.wav", "speech/librispeech_2412-153948-0000.wav",
                "speech/ljspeech_LJ002-0020.wav", "speech/ljspeech_LJ002-0035.wav")
BELLS = ("audio_events/ion_door_bell.ogg", "audio_events/ion_bell_ring.ogg", "audio_events/fd_bell.oga")
LABELS = ("PRIORITY MAIL", "FRAGILE", "EXPRESS", "THIS SIDE UP", "PARCEL 214", "DELIVERY", "RETURN TO SENDER")
Person = tuple[float, float, float, float, float, float]  # t_in, t_stand, t_leave, t_out, x_stand, y


@dataclass
class Footage:
    """A rendered clip's recipe and what happens in it."""

    seconds: float
    fps: float
    seed: int
    backdrop: NDArray[np.float32]
    things: list[tuple[Thing, NDArray[np.float32], NDArray[np.float32]]] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    light: tuple[float, float, float, float] = (0.05, 120.0, 0.0, 0.0)
    noise: float = 2.0
    audio: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    events: list[tuple[float, str]] = field(default_factory=list)  # (time, what) in time order
    content: dict[str, Any] = field(default_factory=dict)

    def frames(self) -> Iterator[NDArray[np.uint8]]:
        """Every frame as ``H×W×3`` uint8 RGB."""
        rng = np.random.default_rng(self.seed + 1000)
        bank = [rng.standard_normal((HEIGHT, WIDTH, 3), dtype=np.float32) * self.noise for _ in range(NOISE_BANK)]
        xs = np.linspace(-1, 1, WIDTH, dtype=np.float32)[None, :, None]
        amp, period, phase, tilt = self.light
        for i in range(int(self.seconds * self.fps)):
            t = i / self.fps
            img = self.backdrop.copy()
            for thing, tex, alpha in self.things:
                box = thing.box_at(t)
                if box is not None:
                    _paste(img, tex, alpha, box, shadow=True)
            for person in self.people:
                _paste_person(img, person, t)
            gain = 1.0 + amp * np.sin(2 * np.pi * t / period + phase) + tilt * xs * (t / self.seconds)
            img *= gain
            img += bank[int(rng.integers(NOISE_BANK))]
            yield np.clip(img, 0, 255).astype(np.uint8)


def _load_audio(rel: str) -> NDArray[np.float32]:
    """A fixture clip as 16 kHz mono float32."""
    import av

    out: list[NDArray[np.float32]] = []
    with av.open(str(FIXTURES / rel)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=SR)
        for frame in c.decode(audio=0):
            out.extend(np.asarray(f.to_ndarray(), np.float32).reshape(-1) for f in res.resample(frame))
        out.extend(np.asarray(f.to_ndarray(), np.float32).reshape(-1) for f in res.resample(None))
    return np.concatenate(out).astype(np.float32)


def _speech_bank(seed: int) -> list[tuple[str, NDArray[np.float32]]]:
    """Real English speech clips, plus espeak-ng sentences when espeak-ng is installed."""
    bank = [(rel, _load_audio(rel)) for rel in SPEECH_CLIPS]
    try:
        from synth.audio import speak

        for i, sentence in enumerate(SENTENCES):
            bank.append((f"espeak: {sentence}", speak(sentence, "en-us", seed + i)))
    except (FileNotFoundError, OSError):
        pass
    return bank


def _label_texture(rgb: tuple[int, int, int], w: int, h: int, text: str, seed: int) -> NDArray[np.float32]:
    """A cardboard-like parcel texture with a white printed label in its middle."""
    from PIL import Image, ImageDraw, ImageFont

    tex = _texture("speckle", rgb, w, h, seed)
    size = max(12, min(24, int(w * 0.9 / max(1, len(text)) / 0.62)))
    font = ImageFont.truetype(str(LATIN_FONT), size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    x0, y0, x1, y1 = (int(v) for v in probe.textbbox((0, 0), text, font=font))
    lw, lh = min(w - 4, x1 - x0 + 10), min(h - 4, y1 - y0 + 8)
    label = Image.new("RGB", (lw, lh), (245, 245, 240))
    ImageDraw.Draw(label).text((5 - x0, 4 - y0), text, font=font, fill=(15, 15, 15))
    ly, lx = (h - lh) // 2, (w - lw) // 2
    tex[ly:ly + lh, lx:lx + lw] = np.asarray(label, np.float32)
    return tex


def _sign(backdrop: NDArray[np.float32], text: str) -> None:
    """A fixed wall sign (dark text on a light plate) painted into the backdrop."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(LATIN_FONT), 20)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    x0, y0, x1, y1 = (int(v) for v in probe.textbbox((0, 0), text, font=font))
    plate = Image.new("RGB", (x1 - x0 + 16, y1 - y0 + 12), (230, 228, 215))
    ImageDraw.Draw(plate).text((8 - x0, 6 - y0), text, font=font, fill=(25, 25, 60))
    arr = np.asarray(plate, np.float32)
    backdrop[10:10 + arr.shape[0], 12:12 + arr.shape[1]] = arr


def _parcel(rng: random.Random, t0: float, t1: float, seed: int, x_range: tuple[float, float]
            ) -> tuple[Thing, NDArray[np.float32], NDArray[np.float32], str]:
    """A labelled parcel that slides in at ``t0``, rests and slides out at ``t1``."""
    w, h = rng.randint(150, 220), rng.randint(90, 140)
    x, y = rng.uniform(*x_range), rng.uniform(HEIGHT - h - 40, HEIGHT - h - 5)
    slide = rng.uniform(0.6, 1.2)
    dx = rng.choice([-1, 1]) * rng.uniform(120, 220)
    path = ((t0 - slide, x + dx, y), (t0, x, y), (t1, x, y), (t1 + slide, x + dx, y))
    colour = rng.choice(["brown", "orange", "yellow", "white", "grey"])
    rgb = _colour(rng, colour)
    text = rng.choice(LABELS)
    thing = Thing("rect", colour, rgb, "speckle", w, h, path, (t0 - slide, t1 + slide))
    return thing, _label_texture(rgb, w, h, text, seed), _shape_mask("rect", w, h, seed), text


def _ball(rng: random.Random, t0: float, seed: int) -> tuple[Thing, NDArray[np.float32], NDArray[np.float32]]:
    size, span = rng.randint(34, 70), rng.uniform(2, 5)
    y = rng.uniform(60, HEIGHT - size - 150)
    xa, xb = (-size - 5.0, WIDTH + 5.0) if rng.random() < 0.5 else (WIDTH + 5.0, -size - 5.0)
    colour = rng.choice(list(COLOURS))
    thing = Thing("ellipse", colour, _colour(rng, colour), "sphere", size, size,
                  ((t0, xa, y), (t0 + span, xb, y + rng.uniform(-20, 20))), (t0, t0 + span))
    return thing, _texture("sphere", thing.rgb, size, size, seed), _shape_mask("ellipse", size, size, 0)


def _person(rng: random.Random, t_in: float, stand: float) -> Person:
    x = rng.uniform(60, WIDTH - 200)
    y = HEIGHT - 200 - rng.uniform(0, 30)
    return (t_in, t_in + 1.5, t_in + 1.5 + stand, t_in + 3.0 + stand, x, y)


def busy_clip_recipe(seconds: float = 300.0, seed: int = 1, fps: float = 25.0) -> Footage:
    """The busy doorway: an event every 4–9 s and speech about a third of the time."""
    rng = random.Random(seed)
    backdrop = _backdrop(rng)
    sign = rng.choice(WORDS)
    _sign(backdrop, sign)
    clip = Footage(seconds, fps, seed, backdrop,
                   light=(rng.uniform(0.03, 0.08), rng.uniform(60, 200), rng.uniform(0, 6.3), rng.uniform(-0.05, 0.05)),
                   noise=rng.uniform(1.5, 3.0))
    counts = {"parcel arrives": 0, "parcel leaves": 0, "ball crosses": 0, "person visits": 0, "bell rings": 0}
    labels: list[str] = []
    audio = background("room_tone", seconds, -45.0, seed)
    parcel_until = person_until = -1.0
    t = 2.0
    while t < seconds - 8:
        kinds = ["ball crosses", "bell rings"]
        if t > parcel_until:
            kinds.append("parcel arrives")
        if t > person_until:
            kinds.append("person visits")
        kind = rng.choice(kinds)
        if kind == "parcel arrives":
            rest = min(rng.uniform(10, 40), seconds - t - 3)
            thing, tex, alpha, text = _parcel(rng, t, t + rest, seed + len(clip.things), (20, WIDTH - 240))
            clip.things.append((thing, tex, alpha))
            clip.events += [(t, f"parcel labelled {text!r} arrives"), (t + rest, "parcel leaves")]
            labels.append(text)
            counts["parcel leaves"] += 1
            parcel_until = t + rest + 2
        elif kind == "ball crosses":
            thing, tex, alpha = _ball(rng, t, seed)
            clip.things.append((thing, tex, alpha))
            clip.events.append((t, f"{thing.colour} ball crosses"))
        elif kind == "person visits":
            stand = min(rng.uniform(5, 15), seconds - t - 4)
            clip.people.append(_person(rng, t, stand))
            clip.events.append((t, "person walks in, stands, walks out"))
            person_until = t + stand + 4
        else:
            rel = rng.choice(BELLS)
            audio = mix_at(audio, _load_audio(rel), t, gain_db=-6.0)
            clip.events.append((t, f"bell ({Path(rel).name})"))
        counts[kind] += 1
        t += rng.uniform(4, 9)
    speech = 0.0
    bank = _speech_bank(seed)
    t = rng.uniform(1, 4)
    while t < seconds - 2:
        name, voice = bank[rng.randrange(len(bank))]
        dur = min(len(voice) / SR, seconds - t)
        audio = mix_at(audio, voice, t, gain_db=rng.uniform(-4, 0))
        clip.events.append((t, f"speech {dur:.1f} s ({name})"))
        speech += dur
        t += dur * (1 + rng.uniform(1.2, 2.4))
    clip.audio = audio
    clip.events.sort()
    clip.content = {
        "kind": "busy", "seconds": seconds, "fps": fps, "seed": seed, "size": f"{WIDTH}x{HEIGHT}",
        "events": len([e for e in clip.events if not e[1].startswith("speech")]),
        "speech_fraction": round(speech / seconds, 3), "wall_sign": sign, "labels": sorted(set(labels)), **counts,
    }
    return clip


def quiet_clip_recipe(seconds: float = 600.0, seed: int = 1, fps: float = 25.0) -> Footage:
    """The quiet doorway: noise, light drift, faint room tone and one event every 5 minutes."""
    rng = random.Random(seed)
    backdrop = _backdrop(rng)
    door = (int(WIDTH * 0.4), 40, int(WIDTH * 0.62), HEIGHT - 10)
    backdrop[door[1]:door[3], door[0]:door[2]] = np.asarray([rng.uniform(60, 120) for _ in range(3)], np.float32)
    light = (rng.uniform(0.03, 0.06), rng.uniform(300, 900), rng.uniform(0, 6.3), rng.uniform(-0.04, 0.04))
    clip = Footage(seconds, fps, seed, backdrop, light=light, noise=rng.uniform(2.0, 4.0))
    audio = background("room_tone", seconds, -50.0, seed)
    for i, start in enumerate(np.arange(0.0, seconds, 300.0)):
        t = float(start + rng.uniform(0.2, 0.8) * min(300.0, seconds - start))
        if i % 2 == 0:  # a parcel is put down and stays
            thing, tex, alpha, text = _parcel(rng, t, seconds + 5, seed + i, (20, WIDTH - 240))
            clip.things.append((thing, tex, alpha))
            clip.events.append((t, f"parcel labelled {text!r} put down (stays)"))
        else:  # somebody rings and waits at the door
            audio = mix_at(audio, _load_audio(BELLS[0]), t, gain_db=-6.0)
            clip.people.append(_person(rng, t + 1.0, rng.uniform(6, 12)))
            clip.events.append((t, "doorbell, a visitor waits and leaves"))
    clip.audio = audio
    clip.content = {"kind": "quiet", "seconds": seconds, "fps": fps, "seed": seed, "size": f"{WIDTH}x{HEIGHT}",
                    "events": len(clip.events), "speech_fraction": 0.0}
    return clip


def write_mp4(clip: Footage, path: Path, crf: int = 23) -> Path:
    """Encode ``clip`` as H.264 (yuv420p) + AAC mono 16 kHz into ``path`` (written atomically)."""
    import av

    person_sprite(200)  # decode the bedroom crop once, before timing-free rendering starts
    tmp = path.with_suffix(".part.mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(tmp), "w") as out:
        vs = out.add_stream("libx264", rate=int(clip.fps), options={"crf": str(crf), "preset": "veryfast",
                                                                      "g": str(int(clip.fps * 2))})
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        aus = out.add_stream("aac", rate=SR, layout="mono")
        pcm = np.clip(clip.audio * 32767, -32768, 32767).astype(np.int16)
        step, a_at = 1024, 0
        for i, image in enumerate(clip.frames()):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
            while a_at < len(pcm) and a_at / SR <= (i + 1) / clip.fps:  # keep audio interleaved with video
                af = av.AudioFrame.from_ndarray(pcm[None, a_at:a_at + step], format="s16", layout="mono")
                af.sample_rate, af.pts = SR, a_at
                out.mux(aus.encode(af))
                a_at += step
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    tmp.replace(path)
    return path
