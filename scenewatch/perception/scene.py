"""The ``scene`` stage: scene cuts and motion spans, from the keyframe sampler's measurements.

Needs no model, so the timeline is never empty: every cut becomes a ``scene`` observation and
every run of changing keyframes one ``motion`` observation (time span, union box, area).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from scenewatch.payloads import MotionPayload, ScenePayload
from scenewatch.perception.stage import BaseStage, Emit, KeyframeShared, StageContext, StageInput
from scenewatch.types import Keyframe, Observation


class SceneStage(BaseStage):
    """Emits scene changes and motion spans."""

    name: ClassVar[str] = "scene"
    inputs: ClassVar[frozenset[StageInput]] = frozenset({"keyframe"})

    def __init__(self, ctx: StageContext) -> None:
        self.source_id = ctx.source.id
        self.area = max(1, ctx.source.width * ctx.source.height)
        self._span: Observation | None = None
        self._count = 0

    def on_keyframe(self, keyframe: Keyframe, shared: KeyframeShared) -> list[Emit]:
        """Record a cut, or extend/close the current motion span."""
        out: list[Emit] = []
        f = keyframe.frame
        if keyframe.reason == "scene":
            out.extend(self._close())
            out.append(Emit(Observation(
                kind="scene", source_id=self.source_id, start=f.pts, end=f.pts, label="scene change",
                confidence=min(1.0, keyframe.change), payload=ScenePayload(change=round(keyframe.change, 4)),
                wall_start=f.wall_time)))
        elif keyframe.reason == "change" and len(keyframe.changed_boxes):
            out.append(self._extend(keyframe))
        else:
            out.extend(self._close())
        return out

    def _extend(self, kf: Keyframe) -> Emit:
        b = kf.changed_boxes
        box = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
        area = float(np.sum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))) / self.area
        if self._span is None:
            self._count += 1
            self._span = Observation(
                kind="motion", source_id=self.source_id, start=kf.frame.pts, end=kf.frame.pts, label="motion",
                box=box, payload=MotionPayload(max_area=round(area, 4), keyframes=1), wall_start=kf.frame.wall_time)
        else:
            s, p = self._span, self._span.payload
            assert isinstance(p, MotionPayload)
            u = (min(s.box[0], box[0]), min(s.box[1], box[1]), max(s.box[2], box[2]), max(s.box[3], box[3])) \
                if s.box else box
            self._span = Observation(
                kind="motion", source_id=s.source_id, start=s.start, end=kf.frame.pts, label="motion", box=u,
                payload=MotionPayload(max_area=round(max(p.max_area, area), 4), keyframes=p.keyframes + 1),
                wall_start=s.wall_start)
        return Emit(self._span, key=f"motion:{self._count}", final=False)

    def _close(self) -> list[Emit]:
        if self._span is None:
            return []
        span, self._span = self._span, None
        return [Emit(span, key=f"motion:{self._count}", final=True)]

    def close(self) -> list[Emit]:
        """Close an open motion span at the end of the source."""
        return self._close()
