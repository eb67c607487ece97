"""Presence gating and per-track bookkeeping.

A tracked object is *present* once it was matched in N of the last M keyframes (one stray
box does not make a visitor) and *absent* after ``hold_seconds`` unseen (a short occlusion
does not end the visit). For every track we keep the first/last time seen, the box at each
sampled time, the best score and a JPEG thumbnail of the best crop.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.types import Detections, Frame

log = logging.getLogger(__name__)

MAX_BOXES_PER_TRACK = 512  # older samples are thinned (every other kept) beyond this
COLOUR_SAMPLES = 8  # the colour of a track is read on its first keyframes…
COLOUR_EVERY = 5  # …and then on every 5th


@dataclass
class TrackRecord:
    """What is known about one track.

    Attributes:
        track_id: stable id from the tracker.
        label: detector label.
        concepts: user concepts the label answers.
        first_seen: media time of the first match.
        last_seen: media time of the latest match.
        boxes: ``(time, [x1, y1, x2, y2], score)`` per matched keyframe.
        best_score: highest score seen.
        best_box: box at the best score.
        thumbnail: path of the best-crop JPEG, if saved.
        mask_rle: RLE of the mask at the best score, for backends with masks.
        present: passed the N-of-M gate.
        label_votes: detector label → summed score over the keyframes it named this track.
        matches: keyframes matched.
        colour_votes: basic colour term → summed weight over sampled crops.
    """

    track_id: int
    label: str
    concepts: tuple[str, ...]
    first_seen: float
    last_seen: float
    boxes: list[tuple[float, list[float], float]] = field(default_factory=list)
    best_score: float = 0.0
    best_box: list[float] = field(default_factory=list)
    thumbnail: str | None = None
    mask_rle: dict[str, Any] | None = None
    present: bool = False
    hits: deque[bool] = field(default_factory=deque)
    label_votes: dict[str, float] = field(default_factory=dict)
    matches: int = 0
    colour_votes: dict[str, float] = field(default_factory=dict)
    colour_samples: int = 0
    identity: str | None = None  # set by perception.faces when enabled
    identity_score: float | None = None
    posture: str | None = None  # set by perception.pose when enabled

    def vote(self, label: str, score: float) -> bool:
        """Count one keyframe's label; returns whether the majority label changed."""
        self.matches += 1
        self.label_votes[label] = self.label_votes.get(label, 0.0) + score
        best = max(self.label_votes, key=lambda k: self.label_votes[k])
        changed = best != self.label
        self.label = best
        return changed

    @property
    def label_scores(self) -> dict[str, float]:
        """Label → mean score per matched keyframe (the majority first); alternatives kept."""
        n = max(1, self.matches)
        return {k: round(v / n, 3) for k, v in sorted(self.label_votes.items(), key=lambda kv: -kv[1])}

    @property
    def colours(self) -> list[str]:
        """Colour terms covering at least a quarter of the track's crops on average (dominant first)."""
        n = max(1, self.colour_samples)
        ranked = sorted(self.colour_votes.items(), key=lambda kv: -kv[1])
        return [k for k, v in ranked if v / n >= 0.25]

    @property
    def colour(self) -> str | None:
        """The colour term with most votes over the track's crops."""
        return max(self.colour_votes, key=lambda k: self.colour_votes[k]) if self.colour_votes else None

    def add_box(self, t: float, box: NDArray[np.float32], score: float) -> None:
        self.boxes.append((round(t, 3), [round(float(v), 1) for v in box], round(score, 3)))
        if len(self.boxes) > MAX_BOXES_PER_TRACK:
            self.boxes = self.boxes[:-1:2] + self.boxes[-1:]


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """Tracks that changed on one keyframe: ``open`` are present and still going, ``closed`` ended."""

    open: tuple[TrackRecord, ...]
    closed: tuple[TrackRecord, ...]


class TrackBook:
    """Presence gate + per-track history over tracked detections.

    Args:
        settings: N, M, hold time, thumbnail options.
        media_dir: where thumbnails go (``None``: no thumbnails).
        concepts_for: label → user concepts.
    """

    def __init__(self, settings: DetectSettings, media_dir: Path | None,
                 concepts_for: dict[str, tuple[str, ...]] | None = None) -> None:
        self.settings = settings
        self.media_dir = media_dir
        self.concepts_for = concepts_for or {}
        self.tracks: dict[int, TrackRecord] = {}

    def update(self, t: float, dets: Detections, frame: Frame | None = None) -> TrackUpdate:
        """Fold in one keyframe's tracked detections at media time ``t``."""
        s = self.settings
        assert dets.track_ids is not None
        seen: set[int] = set()
        changed: list[TrackRecord] = []
        for i, tid in enumerate(dets.track_ids.tolist()):
            if tid < 0 or tid in seen:
                continue
            seen.add(tid)
            label, score, box = dets.labels[i], float(dets.scores[i]), dets.xyxy[i]
            rec = self.tracks.get(tid)
            if rec is None:
                rec = self.tracks[tid] = TrackRecord(tid, label, self.concepts_for.get(label, ()), t, t)
            rec.last_seen = t
            if rec.vote(label, score):
                rec.concepts = self.concepts_for.get(rec.label, rec.concepts)
            if frame is not None and (rec.matches <= COLOUR_SAMPLES or rec.matches % COLOUR_EVERY == 0):
                self._colour_vote(rec, frame, box)
            rec.hits.append(True)
            rec.add_box(t, box, score)
            if score > rec.best_score:
                rec.best_score, rec.best_box = score, [round(float(v), 1) for v in box]
                if dets.masks is not None:
                    from scenewatch.perception.detect.boxes import rle_encode

                    rec.mask_rle = rle_encode(dets.masks[i])
                if frame is not None and s.thumbnails and self.media_dir is not None:
                    rec.thumbnail = self._save_crop(frame, box, tid)
            if len(rec.hits) > s.presence_m:
                rec.hits.popleft()
            if not rec.present and sum(rec.hits) >= s.presence_n:
                rec.present = True
            if rec.present:
                changed.append(rec)
        closed: list[TrackRecord] = []
        for tid, rec in list(self.tracks.items()):
            if tid in seen:
                continue
            rec.hits.append(False)
            if len(rec.hits) > s.presence_m:
                rec.hits.popleft()
            if t - rec.last_seen > s.hold_seconds:
                del self.tracks[tid]
                if rec.present:
                    closed.append(rec)
        return TrackUpdate(tuple(changed), tuple(closed))

    def close_all(self) -> list[TrackRecord]:
        """End of source: every present track is final; unconfirmed ones are dropped."""
        out = [rec for rec in self.tracks.values() if rec.present]
        self.tracks.clear()
        return out

    @staticmethod
    def _colour_vote(rec: TrackRecord, frame: Frame | None, box: NDArray[np.float32]) -> None:
        if frame is None:
            return
        from scenewatch.perception.attributes import object_colour

        try:
            reading = object_colour(frame.image, box)
        except ImportError:  # no OpenCV: tracks go without a colour
            return
        if reading is not None:
            rec.colour_samples += 1
            for name, share in reading.shares.items():
                rec.colour_votes[name] = rec.colour_votes.get(name, 0.0) + share

    def _save_crop(self, frame: Frame, box: NDArray[np.float32], tid: int) -> str | None:
        from PIL import Image

        assert self.media_dir is not None
        x1, y1, x2, y2 = box.tolist()
        pad_x, pad_y = 0.05 * (x2 - x1), 0.05 * (y2 - y1)
        left, top = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
        right, bottom = min(frame.width, int(np.ceil(x2 + pad_x))), min(frame.height, int(np.ceil(y2 + pad_y)))
        if right - left < 2 or bottom - top < 2:
            return None
        crop = Image.fromarray(frame.image[top:bottom, left:right])
        crop.thumbnail((self.settings.thumbnail_size, self.settings.thumbnail_size))
        path = self.media_dir / f"object-{tid}.jpg"
        try:
            self.media_dir.mkdir(parents=True, exist_ok=True)
            crop.save(path, "JPEG", quality=85)
        except OSError as exc:  # a full disk must not stop perception
            log.warning("cannot save thumbnail %s: %s", path, exc)
            return None
        return str(path)
