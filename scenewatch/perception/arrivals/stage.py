"""The ``arrivals`` stage: things that arrive and rest, or leave, whatever their class.

The background model (:mod:`~scenewatch.perception.arrivals.background`) marks pixels that
changed and stayed changed. A region of them that has rested ``dwell_seconds`` and is not a
person (boxes from the objects stage, which runs first on the same keyframe) is classified by
its outline: if the outline's edges are in the current frame and not in the background, an
object arrived; the other way round, something that belonged to the background is gone.

An arrival is then followed on its own: on every keyframe its pixels are compared with the
object's appearance and with the background behind it (both kept from the moment it was
confirmed, the background rescaled to the current light). It departs when its place looks
like the background again for ``depart_seconds``. A person in front of it (neither) pauses
nothing. This does not depend on the background model keeping it as foreground, so an object
resting for hours is not lost when MOG2 absorbs it, and the "ghost" left in the model when
it leaves is recognised as its departure, not a new arrival.

Rows: ``kind="object"`` with :class:`~scenewatch.payloads.ObjectPayload` ``origin="arrival"``
(key ``arrival:<id>``, open while it rests, final when it leaves) and one ``origin="departure"``
row at the time it left. ``label`` is the detector's class when a detector box covers the
region on most keyframes, else ``"object"``; attributes (colour, size, dwell) are filled.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable
from scenewatch.payloads import ObjectPayload, media_ref
from scenewatch.perception.arrivals.background import BackgroundModel, BackgroundStep
from scenewatch.perception.arrivals.regions import Region, edge_contrast, lasting_regions, overlap
from scenewatch.perception.attributes import ColourReading, box_size, object_colour
from scenewatch.perception.stage import BaseStage, Emit, KeyframeShared, StageContext, StageInput
from scenewatch.types import Detections, Keyframe, Observation

log = logging.getLogger(__name__)

ARRIVAL_ID_BASE = 1_000_000  # arrival track ids, apart from the detector's track ids of the same source
GENERIC_LABEL = "object"
MATCH = 14.0  # mean abs. RGB difference (0..255) under which a patch still shows the object
GHOST_WINDOW = 3.0  # a person seen here this long before a removal was the thing removed
NAME_SHARE = 0.3  # a detector label names an arrival when it covered it on this share of its checks
MAX_SAMPLES = 64  # box samples kept per arrival (the first and the latest)
UPDATE_SECONDS = 5.0  # an open arrival row is re-emitted at most this often while it rests


@dataclass
class Arrival:
    """One object that arrived and rests (analysis-resolution geometry)."""

    id: int
    box: tuple[int, int, int, int]
    mask: NDArray[np.bool_]
    first_seen: float
    rest_start: float
    last_seen: float
    appearance: NDArray[np.float32]
    behind: NDArray[np.float32]
    behind_level: float
    contrast: float
    colour: ColourReading | None = None
    thumbnail: str | None = None
    checks: int = 0
    label_votes: dict[str, float] = field(default_factory=dict)
    absent_since: float | None = None
    gone_since: float | None = None
    samples: list[list[float]] = field(default_factory=list)
    sampled: int = 0
    emitted_at: float = float("-inf")

    def sample(self, t: float, box: list[float]) -> None:
        """Keep a bounded history of ``[t, x1, y1, x2, y2, 1.0]`` samples while it rests."""
        self.sampled += 1
        self.samples.append([round(t, 3), *box, 1.0])
        if len(self.samples) > 2 * MAX_SAMPLES:
            self.samples = self.samples[:1] + self.samples[-MAX_SAMPLES + 1:]

    @property
    def label_scores(self) -> dict[str, float]:
        """Detector label → mean score over the checks (how often and how sure it named it)."""
        n = max(1, self.checks)
        return {k: round(v / n, 3) for k, v in sorted(self.label_votes.items(), key=lambda kv: -kv[1])}

    @property
    def label(self) -> str:
        """The detector's confident majority label, else the generic ``"object"``."""
        scores = self.label_scores
        best = next(iter(scores), None)
        return best if best is not None and scores[best] >= NAME_SHARE else GENERIC_LABEL


class ArrivalStage(BaseStage):
    """Arrivals and departures of class-less objects on keyframes.

    Args:
        ctx: stage context (settings, source, media dir).
    """

    name: ClassVar[str] = "arrivals"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})

    def __init__(self, ctx: StageContext) -> None:
        try:
            import cv2  # noqa: F401  (the background model is OpenCV's MOG2)
        except ImportError as exc:
            raise BackendUnavailable("the arrivals stage needs OpenCV: pip install 'scenewatch[vision]'") from exc
        self.ctx = ctx
        self.settings = ctx.settings.arrivals
        self.model: BackgroundModel | None = None
        self.active: dict[int, Arrival] = {}
        self._quiet: deque[tuple[float, tuple[int, int, int, int]]] = deque()  # departed places (model ghosts)
        self._people: deque[tuple[float, NDArray[np.float32]]] = deque()
        self._next_id = 1
        self._wall_offset: float | None = None
        self._frame_size = (0, 0)

    # -- per keyframe ---------------------------------------------------------------------------
    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Update the background model, follow resting arrivals, confirm new lasting changes."""
        frame = keyframe.frame
        t = frame.pts
        if self._wall_offset is None and frame.wall_time is not None:
            self._wall_offset = frame.wall_time - t
        if self.model is None:
            self.model = BackgroundModel(self.settings, frame.width, frame.height)
            self._frame_size = (frame.width, frame.height)
        step = self.model.update(frame.image, t)
        people, things = self._split(shared.detections)
        self._people.append((t, people))
        horizon = t - self.settings.background_seconds
        while self._people and self._people[0][0] < horizon:
            self._people.popleft()
        while self._quiet and self._quiet[0][0] < horizon:
            self._quiet.popleft()
        if step.scene_change:
            return []
        emits: list[Emit] = []
        for arrival in list(self.active.values()):
            emits += self._follow(arrival, step, things, t)
        emits += self._confirm(step, frame.image, people, things, t)
        return emits

    def close(self) -> list[Emit]:
        """End of source: resting arrivals are final (they had not left)."""
        out = [Emit(self._arrival_row(a), f"arrival:{a.id}", True) for a in self.active.values()]
        self.active.clear()
        return out

    def _split(self, dets: Detections | None) -> tuple[NDArray[np.float32], Detections | None]:
        """Person boxes (analysis px) and the other detections (analysis px)."""
        if dets is None or len(dets) == 0 or self.model is None:
            return np.zeros((0, 4), np.float32), None
        scaled = (dets.xyxy / self.model.scale).astype(np.float32)
        is_person = np.array([lab in self.settings.person_labels for lab in dets.labels], bool)
        rest = Detections(scaled[~is_person], dets.scores[~is_person],
                          tuple(lab for lab, p in zip(dets.labels, is_person, strict=True) if not p))
        return scaled[is_person], rest

    # -- resting arrivals ----------------------------------------------------------------------
    def _follow(self, a: Arrival, step: BackgroundStep, things: Detections | None, t: float) -> list[Emit]:
        x1, y1, x2, y2 = a.box
        cur = step.image[y1:y2, x1:x2]
        level = float(step.background.mean()) / max(a.behind_level, 1.0)
        d_obj = float(np.abs(cur - a.appearance).mean(axis=2)[a.mask].mean())
        d_bg = float(np.abs(cur - a.behind * level).mean(axis=2)[a.mask].mean())
        present = d_obj < MATCH or d_obj < 0.5 * d_bg
        gone = not present and d_bg < 0.5 * d_obj
        if present:
            a.last_seen, a.absent_since, a.gone_since = t, None, None
            a.appearance = 0.8 * a.appearance + 0.2 * cur  # follow slow light changes
            self._vote(a, things)
            a.sample(t, self._full_box(a.box))
            if t - a.emitted_at < UPDATE_SECONDS:
                return []
            a.emitted_at = t
            return [Emit(self._arrival_row(a), f"arrival:{a.id}", False)]
        if a.absent_since is None:
            a.absent_since = t
        if gone:
            a.gone_since = a.gone_since if a.gone_since is not None else t
        else:
            a.gone_since = None
        if (a.gone_since is not None and t - a.gone_since >= self.settings.depart_seconds) or \
                t - a.last_seen >= self.settings.lost_seconds:
            return self._depart(a, a.absent_since)
        return []

    def _depart(self, a: Arrival, when: float) -> list[Emit]:
        del self.active[a.id]
        self._quiet.append((when, a.box))
        row = self._arrival_row(a)
        return [Emit(row, f"arrival:{a.id}", True),
                Emit(self._departure_row(a.box, when, a.label, a.colour, a.thumbnail, a.contrast, a.label_scores,
                                         dwell=max(0.0, a.last_seen - a.rest_start)),
                     f"departure:{a.id}", True)]

    def _vote(self, a: Arrival, things: Detections | None) -> None:
        a.checks += 1
        if things is None or not len(things):
            return
        region = np.array([a.box], np.float32)
        covers = overlap(region, things.xyxy)[0]  # share of the region each detection covers
        best: dict[str, float] = {}
        for i in np.flatnonzero(covers >= self.settings.label_overlap):
            lab = things.labels[int(i)]
            best[lab] = max(best.get(lab, 0.0), float(things.scores[int(i)]))
        for lab, score in best.items():
            a.label_votes[lab] = a.label_votes.get(lab, 0.0) + score

    # -- new lasting changes -------------------------------------------------------------------
    def _confirm(self, step: BackgroundStep, image: NDArray[np.uint8], people: NDArray[np.float32],
                 things: Detections | None, t: float) -> list[Emit]:
        s = self.settings
        emits: list[Emit] = []
        taken = [a.box for a in self.active.values()] + [b for _, b in self._quiet]
        for region in lasting_regions(step, s):
            rbox = np.array([region.box], np.float32)
            if taken and self._covers(rbox, np.array(taken, np.float32)):
                continue  # an object already followed, or the ghost of one that left
            if len(people) and (overlap(rbox, people)[0] >= s.person_overlap).any():
                continue  # a person, or something by a person: decide when they have moved on
            if edge_contrast(step, region) >= 1.0:
                emits += self._new_arrival(region, step, image, things, t)
                continue
            when = region.first_seen if np.isfinite(region.first_seen) else t - region.age
            self._quiet.append((t, region.box))
            if self._person_near(rbox, when):
                continue  # where a person stood until then: the model's ghost of them
            # something that belonged to the background is gone
            colour = self._colour(step.background, region)
            contrast = self._contrast(step, region)
            emits.append(Emit(self._departure_row(region.box, when, GENERIC_LABEL, colour, None, contrast, {}),
                              f"departure:gone-{self._next_id}", True))
            self._next_id += 1
        return emits

    @staticmethod
    def _covers(rbox: NDArray[np.float32], boxes: NDArray[np.float32]) -> bool:
        """The region is mostly one of ``boxes``, or holds most of one of them."""
        return bool((overlap(rbox, boxes)[0] >= 0.3).any() or (overlap(boxes, rbox)[:, 0] >= 0.5).any())

    def _person_near(self, rbox: NDArray[np.float32], when: float) -> bool:
        """Whether a person box covered the region in the seconds before (and just after) ``when``."""
        boxes = [b for bt, bs in self._people if when - GHOST_WINDOW <= bt <= when + 1.0 for b in bs]
        return bool(boxes) and bool((overlap(rbox, np.array(boxes, np.float32))[0]
                                     >= self.settings.person_overlap).any())

    def _new_arrival(self, region: Region, step: BackgroundStep, image: NDArray[np.uint8],
                     things: Detections | None, t: float) -> list[Emit]:
        x1, y1, x2, y2 = region.box
        behind = step.background[y1:y2, x1:x2].astype(np.float32)
        rest = t - region.age
        first = min(rest, region.first_seen) if np.isfinite(region.first_seen) else rest
        a = Arrival(self._next_id, region.box, region.mask, first, rest, t,
                    step.image[y1:y2, x1:x2].copy(), behind, max(1.0, float(step.background.mean())),
                    self._contrast(step, region))
        self._next_id += 1
        a.colour = self._colour_full(image, region)
        a.thumbnail = self._thumbnail(image, a)
        self._vote(a, things)
        a.sample(t, self._full_box(a.box))
        a.emitted_at = t
        self.active[a.id] = a
        log.debug("arrival %d at %.2f s, box %s", a.id, a.rest_start, a.box)
        return [Emit(self._arrival_row(a), f"arrival:{a.id}", False)]

    # -- measurements -------------------------------------------------------------------------
    @staticmethod
    def _contrast(step: BackgroundStep, region: Region) -> float:
        x1, y1, x2, y2 = region.box
        diff = np.abs(step.image[y1:y2, x1:x2] - step.background[y1:y2, x1:x2].astype(np.float32)).mean(axis=2)
        return float(diff[region.mask].mean())

    @staticmethod
    def _colour(pixels: NDArray[np.uint8], region: Region) -> ColourReading | None:
        x1, y1, x2, y2 = region.box
        return object_colour(pixels, (x1, y1, x2, y2), region.mask)

    def _colour_full(self, image: NDArray[np.uint8], region: Region) -> ColourReading | None:
        import cv2

        fx1, fy1, fx2, fy2 = (round(v) for v in self._full_box(region.box))
        fx2, fy2 = min(fx2, image.shape[1]), min(fy2, image.shape[0])
        if fx2 - fx1 < 2 or fy2 - fy1 < 2:
            return None
        mask = cv2.resize(region.mask.astype(np.uint8), (fx2 - fx1, fy2 - fy1),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        return object_colour(image, (fx1, fy1, fx2, fy2), mask)

    def _full_box(self, box: tuple[int, int, int, int]) -> list[float]:
        scale = self.model.scale if self.model is not None else 1.0
        w, h = self._frame_size
        x1, y1, x2, y2 = box
        return [round(min(w, x1 * scale), 1), round(min(h, y1 * scale), 1),
                round(min(w, x2 * scale), 1), round(min(h, y2 * scale), 1)]

    def _thumbnail(self, image: NDArray[np.uint8], a: Arrival) -> str | None:
        if not self.settings.thumbnails:
            return None
        from scenewatch.perception.ocr.images import jpeg_thumbnail

        x1, y1, x2, y2 = self._full_box(a.box)
        path = self.ctx.media_dir / f"arrival-{a.id}.jpg"
        try:
            jpeg_thumbnail(image, (x1, y1, x2, y2), path, pad=0.1, max_side=self.settings.thumbnail_size)
        except OSError as exc:  # a full disk must not stop perception
            log.warning("cannot save thumbnail %s: %s", path, exc)
            return None
        return media_ref(path, self.ctx.media_dir)

    # -- rows -----------------------------------------------------------------------------------
    def _row(self, origin: str, box: list[float], start: float, end: float, label: str,
             colour: ColourReading | None, payload: ObjectPayload, confidence: float,
             track_id: int | None) -> Observation:
        verb = "arrived" if origin == "arrival" else "gone"
        parts = [verb, *(colour.names if colour else [])]
        return Observation(
            kind="object", source_id=self.ctx.source.id, start=start, end=max(start, end), label=label,
            text=f"{label} ({', '.join(parts)})", confidence=confidence,
            box=(box[0], box[1], box[2], box[3]), track_id=track_id, payload=payload,
            wall_start=None if self._wall_offset is None else self._wall_offset + start,
        )

    def _confidence(self, contrast: float) -> float:
        return round(float(np.clip(contrast / 30.0, 0.5, 1.0)), 3)

    def _arrival_row(self, a: Arrival) -> Observation:
        box = self._full_box(a.box)
        w, h = self._frame_size
        size_px, size_frac = box_size(box, w, h)
        payload = ObjectPayload(
            concept=GENERIC_LABEL, concepts=[GENERIC_LABEL], boxes=a.samples, thumbnail=a.thumbnail,
            detector=self.name, samples=a.sampled, origin="arrival", label_scores=a.label_scores,
            colour=a.colour.name if a.colour else None, colours=a.colour.names if a.colour else [],
            size_px=size_px, size_frac=size_frac, direction="still", speed=0.0,
            dwell=round(max(0.0, a.last_seen - a.rest_start), 3), rest_start=round(a.rest_start, 3),
        )
        return self._row("arrival", box, a.first_seen, a.last_seen, a.label, a.colour, payload,
                         self._confidence(a.contrast), ARRIVAL_ID_BASE + a.id)

    def _departure_row(self, abox: tuple[int, int, int, int], when: float, label: str,
                       colour: ColourReading | None, thumbnail: str | None, contrast: float,
                       label_scores: dict[str, float], dwell: float | None = None) -> Observation:
        box = self._full_box(abox)
        w, h = self._frame_size
        size_px, size_frac = box_size(box, w, h)
        payload = ObjectPayload(
            concept=GENERIC_LABEL, concepts=[GENERIC_LABEL], boxes=[[round(when, 3), *box, 1.0]],
            thumbnail=thumbnail, detector=self.name, samples=1, origin="departure", label_scores=label_scores,
            colour=colour.name if colour else None, colours=colour.names if colour else [],
            size_px=size_px, size_frac=size_frac, dwell=None if dwell is None else round(dwell, 3),
        )
        return self._row("departure", box, when, when, label, colour, payload, self._confidence(contrast), None)
