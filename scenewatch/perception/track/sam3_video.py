"""SAM 3 mask propagation through ``transformers`` (``Sam3TrackerVideoModel``) — the full-tier tracker.

The detector finds the user's concepts only every ``reprompt_seconds``; in between, this
tracker carries each object's mask from keyframe to keyframe with SAM 3's memory-based
video tracker (a streaming inference session: one frame is added at a time, each object
attends to the memories of its last frames and of its conditioning frames).

Per keyframe the stage calls :meth:`Sam3VideoTracker.propagate` with the frame, and on a
re-detection keyframe then :meth:`Sam3VideoTracker.update` with the detector's output.
A detection whose mask overlaps a propagated object (mask IoU, same label) keeps that
object's id and re-conditions its memory with the detector's mask (drift correction, as
``Sam3VideoModel`` does); an unmatched detection at or over ``score_threshold`` starts a
new object. An object the tracker sees as gone (object score under the threshold, or an
empty mask) is kept for ``hold_seconds`` and then dropped, so memory stays bounded; old
frames and memories past the model's window are pruned every keyframe.

Weights load with ``from_pretrained`` (default ``facebook/sam3``, ``perception.detect.model``
overrides it; ``pip install 'scenewatch[hf]'``). Pre-processing matches the ``sam3``
detector (stretch to the square input, scale to [-1, 1]) without the torchvision-based
image processor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import BackendUnavailable, ScenewatchError
from scenewatch.perception.detect.boxes import mask_to_box
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.types import Detections, Frame

log = logging.getLogger(__name__)

DEFAULT_MODEL = "facebook/sam3"
INSTALL_HINT = "pip install 'scenewatch[hf]'"


@dataclass(slots=True)
class _Object:
    """What the tracker keeps per object besides the model's memory."""

    label: str
    concept: str
    score: float
    last_seen: float
    box: NDArray[np.float32]


class Sam3VideoTracker:
    """Propagates masks of detected objects between keyframes with stable ids.

    Args:
        settings: detection settings (``score_threshold`` starts objects, ``hold_seconds`` ends them,
            ``model`` picks the checkpoint).
        model: an already built ``Sam3TrackerVideoModel`` (tests pass a tiny random one).
        match_iou: mask IoU between a detection and a propagated object needed to keep its id.
        mask_threshold: mask logit at which a pixel belongs to the object.
        object_score_threshold: object-score logit under which the tracker calls the object gone.
        device: torch device (default: CUDA when available, else CPU).
    """

    name = "sam3-video"

    def __init__(self, settings: DetectSettings | None = None, model: Any = None, match_iou: float = 0.3,
                 mask_threshold: float = 0.0, object_score_threshold: float = 0.0, device: str | None = None) -> None:
        try:
            import torch
            from transformers import Sam3TrackerVideoModel
            from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import (
                Sam3TrackerVideoInferenceSession,
            )
        except ImportError as exc:
            raise BackendUnavailable(f"the sam3-video tracker needs torch and transformers>=5 with SAM 3 video "
                                     f"support: {INSTALL_HINT}") from exc
        self.settings = settings or DetectSettings()
        self.match_iou = match_iou
        self.mask_threshold = mask_threshold
        self.object_score_threshold = object_score_threshold
        self._torch = torch
        self._session_cls = Sam3TrackerVideoInferenceSession
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if model is None:
            model_id = self.settings.model or DEFAULT_MODEL
            try:
                model = Sam3TrackerVideoModel.from_pretrained(model_id)
            except (OSError, ValueError) as exc:
                raise BackendUnavailable(f"cannot load SAM 3 tracker weights {model_id!r} "
                                         f"({str(exc).splitlines()[0]}); set perception.detect.model to a local "
                                         "checkpoint") from exc
        self.model = model.to(self.device).eval()
        self.input_size = int(model.config.image_size)
        cfg = model.config
        # memories older than this many frames are never read again (mask memory + object pointers)
        self._window = max(int(cfg.num_maskmem), int(cfg.max_object_pointers_in_encoder)) + 1
        self._max_cond = max(1, int(cfg.max_cond_frame_num))
        self._session: Any = None
        self._size: tuple[int, int] | None = None
        self._objects: dict[int, _Object] = {}
        self._frame: tuple[int, float | None, dict[int, NDArray[np.bool_]]] | None = None
        self._next_id = 1
        self._frame_count = 0
        self._pixels: Any = None

    # -- public API ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every object and the session; ids keep increasing so they never repeat."""
        self._session = None
        self._size = None
        self._objects.clear()
        self._frame = None
        self._frame_count = 0
        self._pixels = None

    @property
    def track_ids(self) -> tuple[int, ...]:
        """Ids of the objects currently tracked (visible or held)."""
        return tuple(self._objects)

    def propagate(self, frame: Frame, timestamp: float | None = None) -> Detections:
        """Add ``frame`` to the session and carry every tracked object's mask onto it.

        Returns:
            The objects visible in ``frame``: masks at frame size, each box the mask's tight box,
            labels/concepts/scores from the detection that started or last confirmed the object.
        """
        t = frame.pts if timestamp is None else timestamp
        h, w = frame.height, frame.width
        if h == 0 or w == 0:
            raise ScenewatchError("sam3-video tracker got an empty frame")
        if self._size != (h, w):
            if self._size is not None:
                log.info("frame size changed %s → %s: tracks restart", self._size, (h, w))
            self.reset()
            self._size = (h, w)
            self._session = self._session_cls(video_height=h, video_width=w, inference_device=self.device,
                                              inference_state_device=self.device, video_storage_device=self.device,
                                              dtype=self._torch.float32)
        session = self._session
        idx = self._frame_count
        self._frame_count += 1
        self._pixels = self._preprocess(frame.image)
        masks: dict[int, NDArray[np.bool_]] = {}
        if not self._objects:
            session.add_new_frame(self._pixels, frame_idx=idx)
        else:
            # passing the frame (streaming) lets each object read all its pointers in the window
            with self._torch.inference_mode():
                out = self.model(inference_session=session, frame=self._pixels, frame_idx=idx)
            logits = self._upsample(out.pred_masks, (h, w))
            obj_scores = out.object_score_logits.reshape(-1).float().cpu().numpy()
            for oid, mask, score in zip(out.object_ids, logits, obj_scores, strict=True):
                if score > self.object_score_threshold and mask.any():
                    masks[int(oid)] = mask
                    self._objects[int(oid)].last_seen = t
                    self._objects[int(oid)].box = mask_to_box(mask)
            gone = [oid for oid, o in self._objects.items() if t - o.last_seen > self.settings.hold_seconds]
            if gone:
                self._remove(gone)
        self._frame = (idx, timestamp, masks)
        self._prune(idx)
        return self._as_detections(list(masks), masks)

    def update(self, detections: Detections, timestamp: float | None = None) -> Detections:
        """Match a re-detection to the objects propagated onto the same frame.

        ``propagate`` must have been called with this keyframe first (the model needs its image).

        Returns:
            The detections in their order with ``track_ids`` set (``-1`` for a weak box that
            continued nothing), followed by propagated objects the detector did not find.

        Raises:
            ScenewatchError: no frame was propagated, or it was for another timestamp.
        """
        if self._frame is None or (timestamp is not None and self._frame[1] is not None
                                   and abs(self._frame[1] - timestamp) > 1e-6):
            raise ScenewatchError("sam3-video tracker: call propagate(frame) with this keyframe before update()")
        idx, _, propagated = self._frame
        assert self._size is not None and detections.concepts is not None
        h, w = self._size
        det_masks = self._detection_masks(detections, (h, w))
        ids = np.full(len(detections), -1, np.int64)
        free = set(propagated)
        order = np.argsort(-detections.scores, kind="stable")
        for i in order:
            cand = [oid for oid in free if self._objects[oid].label == detections.labels[i]]
            if not cand:
                continue
            ious = [_mask_iou(det_masks[i], propagated[oid]) for oid in cand]
            best = int(np.argmax(ious))
            if ious[best] >= self.match_iou:
                ids[i] = cand[best]
                free.discard(cand[best])
        t = self._frame[1] if self._frame[1] is not None else (timestamp or 0.0)
        conditioned: list[int] = []
        for i in range(len(detections)):
            if detections.scores[i] < self.settings.score_threshold and ids[i] < 0:
                continue  # a weak box only confirms an object, never starts one
            if ids[i] < 0:
                ids[i] = self._next_id
                self._next_id += 1
            oid = int(ids[i])
            self._objects[oid] = _Object(detections.labels[i], detections.concepts[i], float(detections.scores[i]),
                                         t, mask_to_box(det_masks[i]))
            if detections.scores[i] >= self.settings.score_threshold and det_masks[i].any():
                self._condition(oid, idx, det_masks[i])
                conditioned.append(oid)
        if conditioned:
            self._session.obj_with_new_inputs = conditioned
            with self._torch.inference_mode():
                self.model(inference_session=self._session, frame=self._pixels, frame_idx=idx)
        carried = [oid for oid in propagated if oid in free]
        rest = self._as_detections(carried, propagated)
        masks = np.concatenate([det_masks, rest.masks]) if rest.masks is not None else det_masks
        assert rest.track_ids is not None and rest.concepts is not None
        return Detections(np.concatenate([detections.xyxy, rest.xyxy]).astype(np.float32),
                          np.concatenate([detections.scores, rest.scores]).astype(np.float32),
                          detections.labels + rest.labels, np.concatenate([ids, rest.track_ids]), masks,
                          detections.concepts + rest.concepts)

    # -- helpers ------------------------------------------------------------------------------

    def _preprocess(self, image: NDArray[np.uint8]) -> Any:
        """``H×W×3`` RGB → ``3×S×S`` float tensor, as the SAM 3 detector prepares it."""
        from scenewatch.perception.detect.sam3 import sam3_pixels

        return self._torch.from_numpy(sam3_pixels(image, self.input_size))

    def _upsample(self, low_res: Any, size: tuple[int, int]) -> NDArray[np.bool_]:
        """``N×1×s×s`` mask logits → ``N×H×W`` boolean masks at frame size."""
        logits = self._torch.nn.functional.interpolate(low_res.float(), size=size, mode="bilinear",
                                                       align_corners=False)[:, 0]
        return (logits > self.mask_threshold).cpu().numpy()

    def _detection_masks(self, detections: Detections, size: tuple[int, int]) -> NDArray[np.bool_]:
        """The detector's masks, or filled boxes for a box-only detector."""
        h, w = size
        if detections.masks is not None:
            if detections.masks.shape[1:] != (h, w):
                raise ScenewatchError(f"detection masks are {detections.masks.shape[1:]}, the frame is {(h, w)}")
            return detections.masks.astype(bool)
        masks = np.zeros((len(detections), h, w), bool)
        for m, (x1, y1, x2, y2) in zip(masks, np.round(detections.xyxy).astype(int), strict=True):
            m[max(0, y1):max(0, y2), max(0, x1):max(0, x2)] = True
        return masks

    def _condition(self, oid: int, idx: int, mask: NDArray[np.bool_]) -> None:
        """Make ``mask`` the object's conditioning input on frame ``idx`` (new object or re-prompt)."""
        torch = self._torch
        session = self._session
        obj_idx = session.obj_id_to_idx(oid)
        m = torch.from_numpy(mask).float()[None, None]
        m = torch.nn.functional.interpolate(m, size=(self.input_size, self.input_size), mode="bilinear",
                                            align_corners=False, antialias=True)
        session.add_mask_inputs(obj_idx, idx, (m >= 0.5).float())
        session.remove_point_inputs(obj_idx, idx)
        # the propagated guess for this frame is replaced: the frame becomes a conditioning frame
        session.output_dict_per_obj[obj_idx]["non_cond_frame_outputs"].pop(idx, None)
        session.frames_tracked_per_obj[obj_idx].pop(idx, None)

    def _as_detections(self, oids: list[int], masks: dict[int, NDArray[np.bool_]]) -> Detections:
        h, w = self._size or (0, 0)
        objs = [self._objects[o] for o in oids]
        boxes = np.stack([mask_to_box(masks[o]) for o in oids]) if oids else np.zeros((0, 4), np.float32)
        stacked = np.stack([masks[o] for o in oids]) if oids else np.zeros((0, h, w), bool)
        return Detections(boxes.astype(np.float32), np.array([o.score for o in objs], np.float32),
                          tuple(o.label for o in objs), np.array(oids, np.int64), stacked,
                          tuple(o.concept for o in objs))

    def _prune(self, idx: int) -> None:
        """Drop frames, inputs and memories the model will not read again (bounded memory)."""
        session = self._session
        for old in [k for k in session.processed_frames if k < idx]:
            del session.processed_frames[old]
        oldest = idx - self._window
        for obj_idx, outputs in session.output_dict_per_obj.items():
            for k in [k for k in outputs["non_cond_frame_outputs"] if k < oldest]:
                del outputs["non_cond_frame_outputs"][k]
            cond = sorted(outputs["cond_frame_outputs"])
            for k in cond[:-self._max_cond]:
                del outputs["cond_frame_outputs"][k]
            for store in (session.frames_tracked_per_obj[obj_idx], session.mask_inputs_per_obj[obj_idx],
                          session.point_inputs_per_obj[obj_idx]):
                for k in [k for k in store if k < oldest]:
                    del store[k]

    def _remove(self, oids: list[int]) -> None:
        """Forget objects and re-index the session's per-object state."""
        session = self._session
        for oid in oids:
            self._objects.pop(oid, None)
        keep = [oid for oid in session.obj_ids if oid not in set(oids)]
        old_idx = {oid: session.obj_id_to_idx(oid) for oid in keep}
        per_obj = ("point_inputs_per_obj", "mask_inputs_per_obj", "output_dict_per_obj", "frames_tracked_per_obj")
        saved = {name: {oid: getattr(session, name)[old_idx[oid]] for oid in keep} for name in per_obj}
        session.reset_tracking_data()
        for oid in keep:
            new = session.obj_id_to_idx(oid)
            for name in per_obj:
                getattr(session, name)[new] = saved[name][oid]
        log.debug("dropped objects %s after %.1fs unseen", oids, self.settings.hold_seconds)


def _mask_iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    union = int(np.logical_or(a, b).sum())
    return int(np.logical_and(a, b).sum()) / union if union else 0.0
