"""Time-chunks of long files, and stitching their rows back into one timeline.

A long file is cut into chunks that own ``[start, end)`` of its media time. Each chunk is
run over a wider window — ``overlap`` seconds of *lead* before its start (keyframe sampler,
tracker, background model and speech context warm up) and ``overlap`` seconds of *tail*
after its end (a sentence or sound that began inside the chunk is heard to its end) — and
ends as a file ends, so every stage closes its spans.

Stitching keeps, from each chunk, the rows that *start* in the part it owns. A row of the
lead continues a kept row of the chunk before (same stage, kind, label and place, within
:data:`~scenewatch.runtime.resume.CONTINUE_GAP`): the kept row is extended to its end, so a
span that crosses a border is one row; a lead row that continues nothing is dropped (the chunk
before covered that time itself). A row the chunk before saw in its tail that this chunk
missed while warming up (the departure of something that arrived long before) is kept from
the chunk before. Speech is cut by words: a chunk keeps the words said after the last word the
chunk before kept, so a sentence across a border is neither lost nor said twice.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from scenewatch.config import Config
from scenewatch.ingest.settings import IngestSettings
from scenewatch.ingest.sources import MediaItem, MediaSource, VideoItem
from scenewatch.memory.store import RowMeta
from scenewatch.payloads import ObjectPayload
from scenewatch.runtime.resume import CONTINUE_GAP, _said, _same_place
from scenewatch.types import AudioChunk, Observation

SOUND_HOP = 0.48
"""Seconds between the sound tagger's analysis windows (YAMNet: 0.96 s windows, 0.48 s hop)."""

StoredRow = tuple[Observation, RowMeta]


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """One task: a whole file, or one time-chunk of it.

    Attributes:
        uri: the file (a path every worker can read: shared storage).
        index: chunk number within the file (0 for a whole file).
        count: how many chunks the file has (1: the whole file).
        start: media time this chunk owns from.
        end: media time it owns until (``None``: the end of the file).
        run_start: where decoding starts (``start`` minus the lead).
        run_end: where decoding stops (``end`` plus the tail; ``None``: the end of the file).
    """

    uri: str
    index: int = 0
    count: int = 1
    start: float = 0.0
    end: float | None = None
    run_start: float = 0.0
    run_end: float | None = None

    @property
    def whole(self) -> bool:
        """Whether this unit is a whole file (no stitching needed)."""
        return self.count == 1

    @property
    def name(self) -> str:
        """Short label for progress and logs."""
        if self.whole:
            return self.uri
        return f"{self.uri} [{self.start:.0f}s–{'end' if self.end is None else f'{self.end:.0f}s'}]"


def chunk_overlap(config: Config) -> float:
    """Seconds of lead and tail a chunk needs for what its stages keep in mind.

    The keyframe floor interval (a few keyframes to warm the tracker and change detector), the
    span-continuation gap, and — when speech runs — one streaming ASR window (a sentence that
    crosses the border is heard whole by the chunk it starts in).
    """
    floor = config.ingest.keyframes.floor_fps
    need = [CONTINUE_GAP + 1.0, 4.0 / floor if floor > 0 else 4.0]
    stages = set(config.perception.stages)
    if "speech" in stages:
        need.append(config.perception.asr.chunk_seconds)
    if "sounds" in stages:
        need.append(config.perception.sounds.merge_gap + 2.0)
    return float(max(need))


def chunk_grid(config: Config) -> float:
    """Seconds a chunk's run starts on a multiple of, so it sees what an unsplit run sees.

    The keyframe floor ticks and the sound tagger's analysis windows count from where decoding
    starts; starting a chunk on a common multiple of both puts its ticks and windows where the
    unsplit run has them (the least common multiple of the floor interval and the window hop,
    capped at a minute).
    """
    floor = config.ingest.keyframes.floor_fps
    steps = [Fraction(1 / floor).limit_denominator(1000)] if floor > 0 else []
    if "sounds" in config.perception.stages:
        steps.append(Fraction(SOUND_HOP).limit_denominator(1000))
    grid = Fraction(0)
    for step in steps:
        grid = step if grid == 0 else Fraction(math.lcm(grid.numerator * step.denominator,
                                                         step.numerator * grid.denominator),
                                                grid.denominator * step.denominator)
    return float(grid) if 0 < grid <= 60 else 0.0


def plan_units(uri: str, duration: float | None, chunk: float | None, overlap: float,
               grid: float = 0.0) -> list[WorkUnit]:
    """Split one file into work units of about ``chunk`` seconds (one unit when short or unknown).

    Each chunk's run starts ``overlap`` seconds before its part, moved earlier onto ``grid``.
    """
    if not chunk or duration is None or duration <= chunk * 1.5:
        return [WorkUnit(uri)]
    count = max(1, round(duration / chunk))
    size = duration / count
    units = []
    for i in range(count):
        start = 0.0 if i == 0 else round(i * size, 3)
        end = None if i == count - 1 else round((i + 1) * size, 3)
        run_start = max(0.0, start - overlap)
        if grid > 0:
            run_start = math.floor(run_start / grid + 1e-9) * grid
        units.append(WorkUnit(uri, i, count, start, end, round(run_start, 6), None if end is None else end + overlap))
    return units


class ChunkSource(MediaSource):
    """A file source that yields only ``[run_start, run_end)`` of the media and then ends like a file."""

    def __init__(self, unit: WorkUnit, settings: IngestSettings | None = None,
                 stop: threading.Event | None = None) -> None:
        super().__init__(unit.uri, settings, stop)
        self.unit = unit

    def items(self, start_at: float = 0.0) -> Iterator[MediaItem]:
        """The media of this chunk's run window (from ``start_at`` if later)."""
        begin = max(start_at, self.unit.run_start)
        end = math.inf if self.unit.run_end is None else self.unit.run_end
        for item in super().items(begin):
            if isinstance(item, AudioChunk):
                if item.start >= end:
                    break
                if item.start < begin:  # sample-exact start, so analysis windows fall where unsplit ones do
                    skip = round((begin - item.start) * item.sample_rate)
                    if skip >= len(item.samples):
                        continue
                    item = replace(item, samples=item.samples[skip:], start=item.start + skip / item.sample_rate)
            elif isinstance(item, VideoItem) and item.pts >= end:
                break
            yield item


@dataclass(slots=True)
class _Kept:
    obs: Observation
    meta: RowMeta
    unit: WorkUnit
    track: int | None = None
    last: WorkUnit | None = None  # the latest chunk that saw the span (where it may have been cut off)


def stitch(chunks: Sequence[tuple[WorkUnit, Sequence[StoredRow]]]) -> list[StoredRow]:
    """One file's rows from its chunks' rows: owned rows kept, border spans joined, repeats dropped.

    Track ids are renumbered per file (each chunk's tracker counts from 1), in order of first appearance.
    """
    kept: list[_Kept] = []
    tracks: dict[tuple[int, int], int] = {}
    tail: list[tuple[WorkUnit, StoredRow]] = []  # rows the chunk before saw after its end (its tail)

    def keep(obs: Observation, meta: RowMeta, unit: WorkUnit) -> None:
        k = _Kept(obs, meta, unit)
        if obs.track_id is not None:
            k.track = tracks.setdefault((unit.index, obs.track_id), len(set(tracks.values())) + 1)
        kept.append(k)

    for unit, rows in sorted(chunks, key=lambda c: c[0].index):
        own_end = math.inf if unit.end is None else unit.end
        earlier = [k for k in kept if k.unit.index < unit.index]
        heard = max((k.obs.end for k in earlier if k.obs.kind == "speech"), default=-math.inf)
        ordered = sorted(rows, key=lambda r: (r[0].start, r[0].end))
        # The chunk before saw these after its end. One it saw whole (ended well before its run did)
        # it saw with more history than this chunk's warming stages: its row stands for them both.
        mine = [(u, r) for u, r in tail if r[0].kind != "speech" and r[0].start < own_end]  # later: the next's
        whole = [(u, r) for u, r in mine if u.run_end is not None and r[0].end < u.run_end - CONTINUE_GAP]
        cut = [(u, r) for u, r in mine if (u, r) not in whole]
        next_tail: list[tuple[WorkUnit, StoredRow]] = []
        for obs, meta in ordered:
            if obs.start >= own_end:
                next_tail.append((unit, (obs, meta)))  # the next chunk owns it, unless it missed it
                continue
            if obs.kind == "speech":
                said = _after(obs, heard) if obs.start < heard - 0.1 else obs
                if said is not None:
                    keep(said, meta, unit)
                continue
            if unit.index > 0 and obs.start < unit.start + CONTINUE_GAP:
                joined = _continues(earlier, obs, meta, unit)
                if joined is not None:
                    _join(joined, obs)
                    joined.last = unit
                    if obs.track_id is not None:
                        tracks.setdefault((unit.index, obs.track_id), joined.track or 0)
                    continue
            if any(_same_thing(o, m, obs, meta) for _, (o, m) in whole):
                continue
            if unit.index == 0 or obs.start >= unit.start:
                keep(obs, meta, unit)
        for before, (obs, meta) in whole:
            keep(obs, meta, before)
        for before, (obs, meta) in cut:  # cut off there, and missed here while warming up
            if not any(_same_thing(obs, meta, o, m) for o, m in ordered):
                keep(obs, meta, before)
        tail = next_tail
    out = []
    for k in sorted(kept, key=lambda k: (k.obs.start, k.obs.end)):
        obs = replace(k.obs, id=None, track_id=k.track if k.obs.track_id is not None else None)
        out.append((obs, replace(k.meta, open=False)))
    return out


def _same_thing(a: Observation, am: RowMeta, b: Observation, bm: RowMeta) -> bool:
    """Whether two chunks' rows describe one thing (same stage, kind, label, words and place, close in time)."""
    if (am.stage, a.kind, a.label, _said(a)) != (bm.stage, b.kind, b.label, _said(b)) or not _same_place(a, b):
        return False
    return b.start <= a.end + CONTINUE_GAP and a.start <= b.end + CONTINUE_GAP


def _after(obs: Observation, t: float) -> Observation | None:
    """The words of a speech row said after ``t`` (an earlier chunk kept what came before), or ``None``."""
    words = getattr(obs.payload, "words", None) or []
    rest = [w for w in words if w.start >= t - 0.05]
    if not rest:
        return None
    text = " ".join(w.word.strip() for w in rest if w.word.strip())
    payload = obs.payload.model_copy(update={"words": rest})
    return replace(obs, start=rest[0].start, end=max(obs.end, rest[-1].end), text=text, payload=payload)


def _continues(earlier: list[_Kept], obs: Observation, meta: RowMeta, unit: WorkUnit) -> _Kept | None:
    """The kept row of an earlier chunk that this row (near the border) goes on from, if any.

    A row of the lead continues a kept row of the same thing it meets in time; a row that starts
    just after the border continues only a span its chunk's end cut off (this chunk's tracker
    took a few keyframes to pick it up) — else it is a new span (something that came back).
    """
    for k in reversed(earlier):
        old = k.obs
        if k.meta.stage != meta.stage or old.kind != obs.kind or old.label != obs.label or _said(old) != _said(obs):
            continue
        if obs.start > old.end + CONTINUE_GAP or obs.end < old.start or not _same_place(old, obs):
            continue
        seen = k.last or k.unit
        cut = seen.run_end is not None and old.end >= seen.run_end - CONTINUE_GAP
        if obs.start < unit.start or cut:
            return k
    return None


def _join(k: _Kept, obs: Observation) -> None:
    """Extend a kept span by its continuation in the next chunk."""
    old = k.obs
    payload = old.payload
    if isinstance(payload, ObjectPayload) and isinstance(obs.payload, ObjectPayload):
        last = max((b[0] for b in payload.boxes), default=-math.inf)
        boxes = payload.boxes + [b for b in obs.payload.boxes if b[0] > last]
        payload = payload.model_copy(update={"boxes": boxes, "samples": payload.samples + obs.payload.samples})
    k.obs = replace(old, end=max(old.end, obs.end), confidence=max(old.confidence, obs.confidence), payload=payload)
