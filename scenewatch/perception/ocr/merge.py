"""Text over time: the same line in the same place across keyframes becomes one span.

Readings of one line differ from frame to frame ("PRIORITY MAIL", "PRIORITY MAlL", "PRIORIT"
while it slides in), so readings are matched to open spans by normalised edit distance (at
most ``merge_distance``), or as a part of the line (one reading inside the other), *and* by
place (their boxes, grown by half a line height, overlap). A span keeps its best-confidence
reading and its box; a fuller reading of a cut line wins over the part.

Static text is not re-read on every keyframe: a span whose box lies outside every region read
on a keyframe and outside every changed region is taken as still there. A span whose box was
read without finding it is "missed"; it closes once unseen for ``hold_seconds``. Its end is the
keyframe that found it gone when that keyframe was taken because its place changed (the sampler
compares every frame, so that is when it went); otherwise halfway between the last keyframe
that saw it and the first that found it gone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.types import TextRegion

MIN_PART_CHARS = 3  # a shorter reading inside a longer one counts as part of the same line


def _levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def text_distance(a: str, b: str) -> float:
    """Edit distance between two readings over the longer one's length (0 same … 1 different).

    Case and runs of whitespace are ignored. Uses ``rapidfuzz`` when installed.
    """
    a, b = _normalise(a), _normalise(b)
    if not a and not b:
        return 0.0
    try:
        from rapidfuzz.distance import Levenshtein

        dist = int(Levenshtein.distance(a, b))
    except ImportError:  # pragma: no cover - depends on the environment
        dist = _levenshtein(a, b)
    return dist / max(len(a), len(b))


def boxes_near(a: NDArray[np.float32], b: NDArray[np.float32]) -> bool:
    """Whether two line boxes overlap once each is grown by half its height on every side."""
    ga = 0.5 * float(a[3] - a[1])
    gb = 0.5 * float(b[3] - b[1])
    return bool(a[0] - ga < b[2] + gb and b[0] - gb < a[2] + ga and a[1] - ga < b[3] + gb and b[1] - gb < a[3] + ga)


def covered(box: NDArray[np.float32], areas: NDArray[np.float32], fraction: float = 0.5) -> bool:
    """Whether at least ``fraction`` of ``box`` lies inside one of ``areas`` (``K×4``)."""
    if not len(areas):
        return False
    ix = np.clip(np.minimum(areas[:, 2], box[2]) - np.maximum(areas[:, 0], box[0]), 0, None)
    iy = np.clip(np.minimum(areas[:, 3], box[3]) - np.maximum(areas[:, 1], box[1]), 0, None)
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-6)
    return bool((ix * iy).max() / area >= fraction)


@dataclass(slots=True)
class TextSpan:
    """One line of text seen over a span of media time.

    Attributes:
        id: number of the span within its source (0-based), stable while it grows.
        start: media time it was first read.
        end: media time it was last seen (or the estimated moment it went).
        text: best-confidence reading.
        score: that reading's confidence.
        box: that reading's ``[x1, y1, x2, y2]`` box.
        last_box: box of the latest reading (where to look for it next).
        readings: how many keyframes read it.
        variants: how often each distinct reading occurred.
        missed_at: first media time it was looked for and not found, since last seen.
        gone_sharp: it was found gone where the frame had just changed (the end is that moment).
        unsure: its place changed without being read; it is not extended until read again.
        best_time: media time of the best reading (when its thumbnail was taken).
        closed: the span is finished.
    """

    id: int
    start: float
    end: float
    text: str
    score: float
    box: NDArray[np.float32]
    last_box: NDArray[np.float32]
    readings: int = 1
    variants: Counter[str] = field(default_factory=Counter)
    missed_at: float | None = None
    unsure: bool = False
    gone_sharp: bool = False
    best_time: float = 0.0
    closed: bool = False

    def add(self, t: float, region: TextRegion) -> bool:
        """Record a matching reading at ``t``; returns whether it became the best reading."""
        self.end = max(self.end, t)
        self.last_box = region.box.copy()
        self.readings += 1
        self.variants[region.text] += 1
        self.missed_at = None
        self.unsure = False
        new, best = _normalise(region.text), _normalise(self.text)
        if new == best or (new in best and len(new) < len(best)):
            better = region.score > self.score and new == best
        elif best in new or _part_distance(best, new) == 0.0:  # a fuller reading of a cut line
            better = region.score >= 0.9 * self.score
        else:
            better = region.score > self.score
        if better:
            self.text, self.score, self.box, self.best_time = region.text, region.score, region.box.copy(), t
        return better


class TextMerger:
    """Merges per-keyframe readings into :class:`TextSpan` values.

    Args:
        settings: ``merge_distance`` and ``hold_seconds`` are used.
    """

    def __init__(self, settings: OcrSettings) -> None:
        self.settings = settings
        self.open: list[TextSpan] = []
        self._next_id = 0

    def update(self, t: float, readings: list[TextRegion], read_areas: NDArray[np.float32] | None,
               changed: NDArray[np.float32]) -> tuple[list[TextSpan], list[TextSpan], list[TextSpan]]:
        """Fold one keyframe's readings in.

        Args:
            t: media time of the keyframe.
            readings: lines read on it.
            read_areas: ``K×4`` boxes that were read; ``None`` if the whole frame was.
            changed: ``K×4`` boxes that changed since the previous keyframe.

        Returns:
            ``(new, improved, closed)`` spans: opened now, whose best reading changed, finished.
        """
        new: list[TextSpan] = []
        improved: list[TextSpan] = []
        matched: set[int] = set()
        for region in readings:
            span = self._match(region, matched)
            if span is None:
                span = TextSpan(self._next_id, t, t, region.text, region.score, region.box.copy(),
                                region.box.copy(), best_time=t)
                span.variants[region.text] += 1
                self._next_id += 1
                self.open.append(span)
                new.append(span)
            elif span.add(t, region):
                improved.append(span)
            matched.add(span.id)
        for span in self.open:
            if span.id in matched:
                continue
            looked = read_areas is None or covered(span.last_box, read_areas)
            if looked:
                if span.missed_at is None:
                    span.missed_at = t
                    # the sampler compares every frame, so a change seen here happened just now
                    span.gone_sharp = covered(span.last_box, changed, 0.01)
            elif covered(span.last_box, changed, 0.01):
                span.unsure = True  # changed and not read (region budget): wait for a reading
            elif span.missed_at is None and not span.unsure:
                span.end = max(span.end, t)  # nothing changed where it is: still there
        return new, improved, self.expire(t)

    def expire(self, t: float) -> list[TextSpan]:
        """Close the spans unseen for longer than ``hold_seconds`` at time ``t``."""
        hold = self.settings.hold_seconds
        gone = [s for s in self.open if t - s.end > hold]
        for span in gone:
            self._finish(span)
        return gone

    def close(self) -> list[TextSpan]:
        """The source ended: close every open span."""
        gone = list(self.open)
        for span in gone:
            self._finish(span)
        return gone

    def _finish(self, span: TextSpan) -> None:
        if span.missed_at is not None and span.missed_at > span.end:
            span.end = span.missed_at if span.gone_sharp else (span.end + span.missed_at) / 2
        span.closed = True
        self.open.remove(span)

    def _match(self, region: TextRegion, taken: set[int]) -> TextSpan | None:
        best: TextSpan | None = None
        best_d = self.settings.merge_distance
        for span in self.open:
            if span.id in taken or not boxes_near(span.last_box, region.box):
                continue
            d = min(text_distance(span.text, region.text), text_distance(_last_variant(span), region.text),
                    _part_distance(span.text, region.text))
            if d <= best_d:
                best, best_d = span, d
        return best


def _part_distance(a: str, b: str) -> float:
    """0 when one reading is a part of the other: a line cut by the frame edge or sliding in.

    A prefix or suffix counts at any length ("FR" of "FRAGILE 4417", as the label enters); a
    part in the middle needs 3+ characters. Callers also require the two boxes to be near.
    """
    a, b = _normalise(a).replace(" ", ""), _normalise(b).replace(" ", "")
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if not short:
        return 1.0
    if long.startswith(short) or long.endswith(short):
        return 0.0
    return 0.0 if len(short) >= MIN_PART_CHARS and short in long else 1.0


def is_text(text: str, min_chars: int = MIN_PART_CHARS) -> bool:
    """Whether a reading can be a row: ``min_chars`` non-space characters, at least one a letter or digit."""
    compact = "".join(text.split())
    return len(compact) >= min_chars and any(ch.isalnum() for ch in compact)


def _last_variant(span: TextSpan) -> str:
    return span.variants.most_common(1)[0][0] if span.variants else span.text
