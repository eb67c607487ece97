"""Run the keyframe sampler + objects/arrivals stages over a :mod:`synth.vision` scene and score them.

Scoring: a truth arrival is found by an ``origin="arrival"`` row whose box overlaps it
(IoU ≥ 0.3) and whose start is within ``tol`` s of the time it came to rest; a departure
(an arrival leaving, or a backdrop object removed) by an ``origin="departure"`` row with the
same box test and its time within ``tol``. Unmatched arrival rows are false arrivals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenewatch.types import Observation
from synth.vision import HEIGHT, WIDTH, Box, Crossing, VisionScene


def watch(scene: VisionScene, media: Path, detector: Any | None = None) -> list[Observation]:
    """Final rows of the ``arrivals`` stage and, when a detector is given, of the ``objects`` stage before it."""
    import cv2

    from scenewatch.config import Config
    from scenewatch.ingest.keyframes import KeyframeSampler
    from scenewatch.perception.arrivals.stage import ArrivalStage
    from scenewatch.perception.stage import KeyframeShared, StageContext
    from scenewatch.types import Frame, Keyframe, SourceInfo

    cfg = Config()
    info = SourceInfo(id=f"vision{scene.seed}", uri="synthetic", kind="file", duration=scene.truth.duration,
                      width=WIDTH, height=HEIGHT, fps=scene.fps, video_codec="raw")
    ctx = StageContext(cfg.perception, info, media)
    stages: list[Any] = []
    if detector is not None:
        from scenewatch.perception.detect.stage import ObjectStage

        stages.append(ObjectStage(ctx, detector=detector))
    stages.append(ArrivalStage(ctx))
    sampler = KeyframeSampler(cfg.ingest.keyframes, WIDTH, HEIGHT)
    tw = cfg.ingest.keyframes.analysis_width
    th = round(HEIGHT * tw / WIDTH)
    rows: dict[str, Observation] = {}
    for i, (t, img) in enumerate(scene.frames()):
        thumb = cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (tw, th), interpolation=cv2.INTER_AREA)
        got = sampler.consider(thumb, t)
        if got is None:
            continue
        kf = Keyframe(Frame(img, t, info.id, i), got[0], got[1], got[2])
        shared = KeyframeShared()
        for stage in stages:
            for e in stage.on_keyframe(kf, shared):
                rows[e.key or str(len(rows))] = e.observation
    for stage in stages:
        for e in stage.close():
            rows[e.key or str(len(rows))] = e.observation
    return sorted(rows.values(), key=lambda o: o.start)


def _follows(o: Observation, c: Crossing) -> bool:
    """A track follows a crossing: ≥ 3 samples, most of them near the crossing object's true box."""
    boxes = getattr(o.payload, "boxes", [])
    if len(boxes) < 3:
        return False
    near = 0
    for t, x1, y1, x2, y2, *_ in boxes:
        truth = c.thing.box_at(t)
        near += truth is not None and _iou(truth, (x1, y1, x2, y2)) >= 0.2
    return near >= 0.6 * len(boxes)


def _rest_start(o: Observation) -> float:
    rest = getattr(o.payload, "rest_start", None)
    return float(rest) if rest is not None else o.start


def _iou(a: Box, b: Box | tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(1e-6, (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@dataclass
class Score:
    """Counts for one or more scenes."""

    arrivals: int = 0
    arrivals_found: int = 0
    departures: int = 0
    departures_found: int = 0
    false_arrivals: int = 0
    colours: int = 0
    colours_right: int = 0
    crossings: int = 0
    crossings_tracked: int = 0
    directions_right: int = 0
    directions_wrong: int = 0
    track_colours_right: int = 0
    minutes: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        """Accumulate another scene's counts."""
        for k in ("arrivals", "arrivals_found", "departures", "departures_found", "false_arrivals", "colours",
                  "colours_right", "crossings", "crossings_tracked", "directions_right", "directions_wrong",
                  "track_colours_right",
                  "minutes"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.misses += other.misses

    def summary(self) -> dict[str, float]:
        """Recall, false arrivals per 10 min, colour accuracy."""
        return {
            "arrival_recall": round(self.arrivals_found / max(1, self.arrivals), 3),
            "departure_recall": round(self.departures_found / max(1, self.departures), 3),
            "false_arrivals_per_10min": round(10 * self.false_arrivals / max(1e-9, self.minutes), 2),
            "colour_accuracy": round(self.colours_right / max(1, self.colours), 3),
            "crossings_tracked": f"{self.crossings_tracked}/{self.crossings}",
            "direction_right": f"{self.directions_right}/{self.crossings_tracked}",
            "direction_wrong": self.directions_wrong,
            "track_colour_right": f"{self.track_colours_right}/{self.crossings_tracked}",
            "arrivals": self.arrivals, "departures": self.departures, "minutes": round(self.minutes, 2),
        }


def score(scene: VisionScene, rows: list[Observation], tol: float = 1.0) -> Score:
    """Compare the rows of :func:`watch` with the scene's truth."""
    arr = [o for o in rows if getattr(o.payload, "origin", None) == "arrival"]
    dep = [o for o in rows if getattr(o.payload, "origin", None) == "departure"]
    s = Score(minutes=scene.truth.duration / 60)
    used: set[int] = set()
    for a in scene.truth.arrivals:
        assert a.rest_start is not None
        if a.rest_start > scene.truth.duration - 3.5:
            continue  # not at rest long enough before the end to be reported
        s.arrivals += 1
        hits = [i for i, o in enumerate(arr) if o.box and _iou(a.box, o.box) >= 0.3
                and abs(_rest_start(o) - a.rest_start) <= tol]
        if hits:
            s.arrivals_found += 1
            used.add(hits[0])
            s.colours += 1
            got = getattr(arr[hits[0]].payload, "colour", None)
            s.colours_right += got == a.colour
            if got != a.colour:
                s.misses.append(f"seed {scene.seed}: colour {a.colour} read as {got}")
        else:
            s.misses.append(f"seed {scene.seed}: arrival at {a.rest_start:.1f}s {tuple(round(v) for v in a.box)} "
                            f"missed; rows {[(round(_rest_start(o), 1), o.box) for o in arr]}")
    for i, o in enumerate(arr):
        if i not in used and not any(o.box and _iou(a.box, o.box) >= 0.3 for a in scene.truth.arrivals):
            s.false_arrivals += 1
            s.misses.append(f"seed {scene.seed}: false arrival at {o.start:.1f}s {o.box}")
    for d in [*scene.truth.arrivals, *scene.truth.removals]:
        if d.rest_end is None or d.rest_end > scene.truth.duration - 2.0:
            continue
        if d.rest_start is not None and d.rest_start > scene.truth.duration - 3.5:
            continue
        s.departures += 1
        if any(o.box and _iou(d.box, o.box) >= 0.3 and abs(o.start - d.rest_end) <= tol for o in dep):
            s.departures_found += 1
        else:
            s.misses.append(f"seed {scene.seed}: departure at {d.rest_end:.1f}s missed; "
                            f"rows {[(round(o.start, 1), o.box) for o in dep]}")
    for c in scene.truth.crossings:  # linear crossings the detector tracked: is the direction right?
        s.crossings += 1
        tracks = [o for o in rows if getattr(o.payload, "origin", None) == "detector" and _follows(o, c)]
        if tracks:
            best = max(tracks, key=lambda o: o.end - o.start)
            s.crossings_tracked += 1
            got = getattr(best.payload, "direction", None)
            s.directions_right += got == c.direction
            s.directions_wrong += got is not None and got != c.direction
            colour = getattr(best.payload, "colour", None)
            s.track_colours_right += colour == c.colour
            if colour != c.colour:
                s.misses.append(f"seed {scene.seed}: crossing ball {c.colour} read as {colour}")
            if got != c.direction:
                s.misses.append(f"seed {scene.seed}: crossing {c.direction} at {c.start:.1f}s read as {got} "
                                f"({best.label} {best.start:.1f}-{best.end:.1f}s)")
    return s


def evaluate(seeds: range | list[int], media: Path, detector: Any | None = None) -> Score:
    """Score the arrivals stage over many seeded scenes."""
    total = Score()
    for seed in seeds:
        scene = make(seed)
        total.add(score(scene, watch(scene, media, detector)))
    return total


def make(seed: int) -> VisionScene:
    """The scene of ``seed`` (thin alias kept for scripts)."""
    from synth.vision import make_scene

    return make_scene(seed)


__all__ = ["Score", "evaluate", "score", "watch"]
