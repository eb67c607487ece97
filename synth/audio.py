"""Seeded audio generators for hearing evaluation: background noise beds and tone/speech mixes.

Nothing here is imported by the package; benchmarks and tests use it to build inputs with known
truth ("no event in here"). Levels are RMS in dBFS; realistic quiet rooms sit around -60..-45 dBFS,
a busy street heard through a window around -40..-30 dBFS.

Example:
    >>> from synth.audio import background
    >>> x = background("pink", seconds=2.0, level_db=-45.0, seed=1)
    >>> x.shape
    (32000,)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

SR = 16000
Audio = NDArray[np.float32]


def _coloured(n: int, exponent: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Noise whose power falls as ``1/f**exponent`` (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    spectrum *= f ** (-exponent / 2)
    x = np.fft.irfft(spectrum, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _at_level(x: NDArray[np.float64], level_db: float) -> Audio:
    rms = np.sqrt(np.mean(x**2)) + 1e-12
    return np.clip(x / rms * 10 ** (level_db / 20), -1.0, 1.0).astype(np.float32)


def _lowpass(x: NDArray[np.float64], cutoff: float) -> NDArray[np.float64]:
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    spec *= 1.0 / np.sqrt(1.0 + (f / cutoff) ** 4)
    return np.fft.irfft(spec, len(x))


def pink(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Pink (1/f) noise."""
    return _coloured(n, 1.0, rng)


def brown(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Brown (1/f²) noise: rumble."""
    return _coloured(n, 2.0, rng)


def room_tone(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Ventilation hiss plus a faint mains hum (50 or 60 Hz with harmonics) and slow level drift."""
    t = np.arange(n) / SR
    hum_f = float(rng.choice([50.0, 60.0]))
    hum = sum(np.sin(2 * np.pi * hum_f * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
    hiss = _lowpass(pink(n, rng), float(rng.uniform(1500, 4000)))
    drift = 1.0 + 0.2 * np.sin(2 * np.pi * t / rng.uniform(7, 20))
    return drift * hiss + 0.3 * hum / np.sqrt(np.mean(hum**2) + 1e-12)


def distant_traffic(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Low-passed brown/pink noise swelling as unseen cars pass every few seconds."""
    t = np.arange(n) / SR
    bed = _lowpass(0.6 * brown(n, rng) + 0.4 * pink(n, rng), float(rng.uniform(300, 900)))
    swell = np.ones(n)
    for centre in np.cumsum(rng.uniform(3.0, 12.0, size=int(n / SR / 3) + 2)):
        swell += rng.uniform(0.5, 2.0) * np.exp(-0.5 * ((t - centre) / rng.uniform(1.0, 3.0)) ** 2)
    return bed * swell


BACKGROUNDS: dict[str, Callable[[int, np.random.Generator], NDArray[np.float64]]] = {
    "pink": pink,
    "brown": brown,
    "room_tone": room_tone,
    "distant_traffic": distant_traffic,
}


def background(kind: str, seconds: float, level_db: float, seed: int) -> Audio:
    """``seconds`` of a named background (``pink``, ``brown``, ``room_tone``, ``distant_traffic``) at an RMS level.

    Raises:
        KeyError: unknown kind.
    """
    rng = np.random.default_rng(seed)
    return _at_level(BACKGROUNDS[kind](round(seconds * SR), rng), level_db)


def mix_at(bed: Audio, clip: Audio, at: float, gain_db: float = 0.0) -> Audio:
    """``bed`` with ``clip`` added from ``at`` seconds (clipped to the bed's length), scaled by ``gain_db``."""
    out = bed.copy()
    i = round(at * SR)
    part = clip[: max(0, len(out) - i)] * np.float32(10 ** (gain_db / 20))
    out[i: i + len(part)] += part
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def speak(text: str, voice: str, seed: int) -> Audio:
    """``text`` spoken by Debian's espeak-ng (``voice`` such as ``es``, ``fr-fr``, ``it``, ``de``) at 16 kHz.

    Speaking rate and pitch vary with ``seed`` (130–175 words a minute, pitch 35–65).

    Raises:
        FileNotFoundError: espeak-ng is not installed (``apt-get install espeak-ng``).
    """
    import io
    import subprocess
    import wave

    rng = np.random.default_rng(seed)
    cmd = ["espeak-ng", "-v", voice, "-s", str(int(rng.integers(130, 176))), "-p", str(int(rng.integers(35, 66))),
           "--stdout", text]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(raw)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
    n_out = round(len(pcm) * SR / rate)
    return np.interp(np.arange(n_out) * (rate / SR), np.arange(len(pcm)), pcm).astype(np.float32)
