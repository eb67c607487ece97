"""The ``objects`` stage: detect the user's concepts on keyframes, track them, gate presence.

Per keyframe: detector → tracker → :class:`~scenewatch.perception.track.presence.TrackBook`.
The stage sets ``shared.detections`` (tracked boxes with user concepts) for later stages
(OCR reads inside them) and emits one ``object`` observation per present track with key
``object:<track>``, ``final=False`` while the track is open and ``final=True`` when it ends.

On a static scene (a ``floor`` keyframe with almost no change) the last detections are
reused instead of running the detector again for ``static_redetect_seconds``; after that, the
detector runs again as soon as the frame no longer looks as it did after the last run (a slow
change that never made a keyframe "change"), and at least every ``static_max_seconds``: the
periodic re-detection re-finds lost objects and corrects drift.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ScenewatchError
from scenewatch.payloads import ObjectPayload
from scenewatch.perception.detect import DETECTORS, Detector
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.perception.looks import region_look, same_look
from scenewatch.perception.stage import BaseStage, Emit, KeyframeShared, StageContext, StageInput, stored_media_ref
from scenewatch.perception.track import TRACKERS, Tracker
from scenewatch.perception.track.presence import TrackBook, TrackRecord
from scenewatch.types import Detections, Keyframe, Observation

if TYPE_CHECKING:
    from scenewatch.perception.faces.annotate import FaceBook, TrackFaces
    from scenewatch.perception.pose.annotate import TrackPoses

log = logging.getLogger(__name__)

STATIC_CHANGE = 0.01  # mean abs. difference (0..1) under which a floor keyframe counts as static
STATIC_LOOK_GRID = (32, 18)  # columns, rows of the whole-frame look on static keyframes (20 px cells at 640×360)
#: Prompts for open-vocabulary detectors when the user named no concepts.
DEFAULT_OPEN_CONCEPTS = ("person", "car", "dog", "cat", "package", "bicycle")


def build_tracking_detector(settings: DetectSettings) -> Detector:
    """The registered detector, returning boxes down to ``low_score_threshold`` for the tracker."""
    low = min(settings.low_score_threshold, settings.score_threshold)
    detector: Detector = DETECTORS.get(settings.backend)(settings.model_copy(update={"score_threshold": low}))
    return detector


def object_targets(detector: Detector, concepts: Sequence[str], settings: DetectSettings,
                   strict: bool, embed_backend: str = "minilm") -> dict[str, tuple[str, ...]]:
    """Detector prompt → the user concepts it answers.

    Closed-vocabulary detectors get concepts mapped onto their labels; open-vocabulary ones
    take the concepts as prompts. With no concepts a closed detector watches all its labels.
    ``embed_backend`` is the configured ``perception.embed.backend`` the concept mapper uses.

    Raises:
        ScenewatchError: ``strict`` and none of the concepts can be seen by this detector.
    """
    if detector.vocabulary is None:
        prompts = tuple(dict.fromkeys(c.strip() for c in concepts if c.strip())) or DEFAULT_OPEN_CONCEPTS
        if len(prompts) > settings.max_concepts:
            raise ScenewatchError(f"{len(prompts)} concepts given; at most {settings.max_concepts} are accepted")
        return {p: (p,) for p in prompts}
    if not concepts and not strict:
        return {label: () for label in detector.vocabulary}
    from scenewatch.perception.concepts import ConceptMapper

    mapper = ConceptMapper(threshold=settings.concept_threshold, object_labels=detector.vocabulary,
                           max_concepts=settings.max_concepts, embed_backend=embed_backend)
    cmap = mapper.map(list(concepts))
    targets = cmap.labels_for("objects")
    if not targets and strict:
        elsewhere = [f"{m.concept!r} → {', '.join(f'{t.stage}:{t.label}' for t in m.targets)}"
                     for m in cmap.mappings if m.targets]
        hint = f" ({'; '.join(elsewhere)})" if elsewhere else ""
        names = ", ".join(m.concept for m in cmap.mappings)
        raise ScenewatchError(f"the {detector.name} detector cannot see any of: {names}{hint}")
    for m in cmap.mappings:
        if not m.perceivable:
            log.warning("concept %r: %s", m.concept, m.note)
    return targets


def track_observation(rec: TrackRecord, source_id: str, detector: str,
                      wall_offset: float | None = None, media_dir: Path | None = None,
                      frame_size: tuple[int, int] | None = None) -> Observation:
    """The timeline row for one track (its thumbnail relative to the media root, given ``media_dir``).

    With ``frame_size`` (width, height) the row carries attributes from pixels and boxes:
    colour, size, direction, speed and dwell, also written into its searchable text.
    """
    from scenewatch.perception.attributes import box_size, describe, motion_of

    concepts = list(rec.concepts) or [rec.label]
    samples = [[t, *box] for t, box, _ in rec.boxes]
    motion = motion_of(samples, *frame_size) if frame_size else None
    size = box_size(rec.best_box, *frame_size) if frame_size and len(rec.best_box) == 4 else (None, None)
    colour = rec.colour
    payload = ObjectPayload(
        concept=concepts[0],
        concepts=concepts,
        boxes=[[t, *box, score] for t, box, score in rec.boxes],
        thumbnail=(stored_media_ref(rec.thumbnail, media_dir) if media_dir is not None and rec.thumbnail is not None
                   else rec.thumbnail),
        detector=detector,
        samples=len(rec.boxes),
        mask_rle=rec.mask_rle,
        label_scores=rec.label_scores,
        colour=colour,
        colours=rec.colours,
        size_px=size[0],
        size_frac=size[1],
        direction=motion.direction if motion else None,
        speed=motion.speed if motion else None,
        dwell=round(rec.last_seen - rec.first_seen, 3),
        identity=rec.identity,
        identity_score=rec.identity_score,
        posture=rec.posture,
    )
    text = describe(rec.label, concepts, colour, motion.direction if motion else None)
    box = tuple(rec.best_box) if len(rec.best_box) == 4 else None
    return Observation(
        kind="object", source_id=source_id, start=rec.first_seen, end=rec.last_seen, label=rec.label,
        text=text, confidence=min(1.0, max(0.0, rec.best_score)), box=box,  # type: ignore[arg-type]
        track_id=rec.track_id, payload=payload,
        wall_start=None if wall_offset is None else wall_offset + rec.first_seen,
    )


def _track_faces(ctx: StageContext) -> TrackFaces | None:
    """The face annotator when ``perception.faces.enabled`` (heavy imports only then)."""
    if not ctx.settings.faces.enabled:
        return None
    from scenewatch.perception.faces.annotate import TrackFaces

    return TrackFaces(ctx.settings.faces)


def _track_poses(ctx: StageContext) -> TrackPoses | None:
    """The posture annotator when ``perception.pose.enabled`` (heavy imports only then)."""
    if not ctx.settings.pose.enabled:
        return None
    from scenewatch.perception.pose.annotate import TrackPoses

    return TrackPoses(ctx.settings.pose)


class ObjectStage(BaseStage):
    """Detect → track → presence-gate the user's concepts on keyframes.

    Args:
        ctx: stage context (config, source, media dir, concepts).
        detector: an already built detector (tests, benchmarks); default from the registry.
        tracker: an already built tracker; default from the registry.
    """

    name: ClassVar[str] = "objects"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})
    writes_shared: ClassVar[bool] = True  # later stages read shared.detections

    def __init__(self, ctx: StageContext, detector: Detector | None = None, tracker: Tracker | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.detect
        concepts = ctx.concepts
        self.detector = detector or build_tracking_detector(self.settings)
        self.targets = object_targets(self.detector, concepts, self.settings, strict=False,
                                      embed_backend=ctx.settings.embed.backend)
        self.hidden = self._labels_for_later_stages()
        self.targets = {**self.targets, **{label: () for label in self.hidden}}
        self.prompts = tuple(self.targets)
        self.tracker = tracker or TRACKERS.get(self.settings.tracker)(self.settings)
        self.book = TrackBook(self.settings, ctx.media_dir, self.targets)
        self._last: Detections | None = None
        self._last_detect = float("-inf")
        self._look: NDArray[np.float32] | None = None  # the frame's look on a static keyframe after the last run
        self._look_checked = float("-inf")  # when the look was last compared
        self._wall_offset: float | None = None
        self.detector_runs = 0
        self._frame_size: tuple[int, int] | None = None
        self.faces = _track_faces(ctx)  # known faces on person tracks (opt-in)
        self.poses = _track_poses(ctx)  # posture and falls on person tracks (opt-in)

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Detect (or reuse on a static scene), track, and emit present tracks."""
        if not self.prompts:
            return []
        frame = keyframe.frame
        t = frame.pts
        if self._wall_offset is None and frame.wall_time is not None:
            self._wall_offset = frame.wall_time - t
        static = keyframe.reason == "floor" and keyframe.change < STATIC_CHANGE
        # A mask-propagating tracker (sam3-video) sees every keyframe; the detector then runs only
        # every reprompt_seconds to find new objects and re-condition the carried ones.
        propagate = getattr(self.tracker, "propagate", None)
        carried: Detections | None = propagate(frame, timestamp=t) if propagate is not None else None
        if carried is not None and t - self._last_detect < self.settings.reprompt_seconds:
            tracked = carried
        else:
            if self._last is not None and static and self._still_as_detected(frame.image, t):
                dets = self._last
            else:
                dets = self.detector.detect(frame, self.prompts)
                self._last, self._last_detect = dets, t
                self._look, self._look_checked = None, float("-inf")  # taken when first needed (may be moving now)
                self.detector_runs += 1
            dets = self._with_user_concepts(dets)
            tracked = self.tracker.update(dets, timestamp=t)
        assert tracked.track_ids is not None
        # weak boxes that continued no track are noise
        tracked = tracked.subset((tracked.track_ids >= 0) | (tracked.scores >= self.settings.score_threshold))
        shared.detections = tracked
        update = self.book.update(t, tracked, frame)
        if self.faces is not None:
            self.faces.annotate(t, frame.image, update.open)
            self.faces.forget(r.track_id for r in update.closed)
        falls = self.poses.annotate(t, frame.image, update.open) if self.poses is not None else []
        if self.poses is not None:
            self.poses.forget(r.track_id for r in update.closed)
        src = self.ctx.source.id
        name = self.detector.name
        media = self.ctx.media_dir
        size = (frame.width, frame.height)
        self._frame_size = size
        emits = [Emit(track_observation(r, src, name, self._wall_offset, media, size), f"object:{r.track_id}", False)
                 for r in update.open if r.label not in self.hidden]
        emits += [Emit(track_observation(r, src, name, self._wall_offset, media, size), f"object:{r.track_id}", True)
                  for r in update.closed if r.label not in self.hidden]
        if falls:
            from scenewatch.perception.pose.annotate import fall_observation

            emits += [Emit(fall_observation(f, src, self._wall_offset)) for f in falls]
        return emits

    def _still_as_detected(self, image: NDArray[np.uint8], t: float) -> bool:
        """On a static keyframe: may the last detections stand in for a new detector run?

        Yes within ``static_redetect_seconds`` of the last run. After that, only while the whole
        frame still looks as it did at the first static check after that run (light-normalised
        block means, see :mod:`~scenewatch.perception.looks`: a slow arrival that never made a
        keyframe "change" still shows), compared once every ``static_redetect_seconds``, and for
        at most ``static_max_seconds``.
        """
        since = t - self._last_detect
        every = self.settings.static_redetect_seconds
        if since < every:
            if self._look is None:
                self._look = region_look(image, None, STATIC_LOOK_GRID)
            return True
        if since >= self.settings.static_max_seconds:
            return False
        if t - self._look_checked < every:
            return True  # compared lately: the look is compared once per period, not on every keyframe
        self._look_checked = t
        return same_look(self._look, region_look(image, None, STATIC_LOOK_GRID))

    def close(self) -> list[Emit]:
        """Finalise every present track."""
        src = self.ctx.source.id
        return [Emit(track_observation(r, src, self.detector.name, self._wall_offset, self.ctx.media_dir,
                                       self._frame_size), f"object:{r.track_id}", True)
                for r in self.book.close_all() if r.label not in self.hidden]

    def attach_face_book(self, book: FaceBook) -> None:
        """Match faces against ``book`` (the runtime's enrolled people) when faces are enabled."""
        if self.faces is not None:
            self.faces.attach(book)

    def _labels_for_later_stages(self) -> frozenset[str]:
        """Labels detected only for later stages: with ``arrivals`` on, people are always detected
        (a person standing still is not an arrival) but reported only when the user asked for them."""
        settings = self.ctx.settings
        if "arrivals" not in settings.stages:
            return frozenset()
        vocabulary = self.detector.vocabulary
        return frozenset(label for label in settings.arrivals.person_labels
                         if label not in self.targets and (vocabulary is None or label in vocabulary))

    def _with_user_concepts(self, dets: Detections) -> Detections:
        assert dets.concepts is not None
        concepts = tuple((self.targets.get(c) or self.targets.get(lab) or (c or lab,))[0]
                         for c, lab in zip(dets.concepts, dets.labels, strict=True))
        return Detections(dets.xyxy, dets.scores, dets.labels, dets.track_ids, dets.masks, concepts)
