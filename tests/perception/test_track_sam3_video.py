"""SAM 3 video tracker, wired to a tiny random Sam3TrackerVideoModel built here (no weights downloaded).

Checks the streaming session on synthetic keyframes: propagated masks at frame size for every
tracked id, ids stable across keyframes and re-detections, boxes equal to the masks' tight
boxes, weak boxes never start objects, reset, and the ObjectStage hook (detector only every
``reprompt_seconds``). Skipped without torch/transformers or the SAM 3 video classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="full tier: pip install 'scenewatch[hf]'")
transformers = pytest.importorskip("transformers", reason="full tier: pip install 'scenewatch[hf]'")
if not hasattr(transformers, "Sam3TrackerVideoModel"):
    pytest.skip("transformers has no Sam3TrackerVideoModel (SAM 3 video tracker needs transformers>=5)",
                allow_module_level=True)

from scenewatch.errors import ScenewatchError  # noqa: E402
from scenewatch.perception.detect.boxes import mask_to_box  # noqa: E402
from scenewatch.perception.detect.settings import DetectSettings  # noqa: E402
from scenewatch.perception.track import TRACKERS, Tracker  # noqa: E402
from scenewatch.perception.track.sam3_video import Sam3VideoTracker  # noqa: E402
from scenewatch.types import Detections, Frame  # noqa: E402

H, W = 90, 160


def tiny_model() -> object:
    from transformers.models.sam3 import configuration_sam3 as c
    from transformers.models.sam3_tracker_video import configuration_sam3_tracker_video as v

    d = 128  # the memory attention reads 64-channel memories and splits pointers: hidden must exceed 64
    backbone = c.Sam3ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                               image_size=224, patch_size=14, window_size=8, global_attn_indexes=[0, 1])
    vision = c.Sam3VisionConfig(backbone_config=backbone, fpn_hidden_size=d, scale_factors=[4.0, 2.0, 1.0, 0.5],
                                backbone_feature_sizes=[[64, 64], [32, 32], [16, 16]])
    config = v.Sam3TrackerVideoConfig(
        vision_config=vision,
        prompt_encoder_config=v.Sam3TrackerVideoPromptEncoderConfig(hidden_size=d, image_size=224, patch_size=14),
        mask_decoder_config=v.Sam3TrackerVideoMaskDecoderConfig(hidden_size=d, mlp_dim=64, num_attention_heads=4,
                                                                iou_head_hidden_dim=32),
        num_maskmem=3, max_object_pointers_in_encoder=4, max_cond_frame_num=2,
        memory_attention_hidden_size=d, memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64, memory_attention_rope_feat_sizes=[16, 16],
        memory_encoder_hidden_size=d, memory_encoder_output_channels=64, mask_downsampler_embed_dim=d,
        memory_fuser_embed_dim=d, memory_fuser_intermediate_dim=64, image_size=224,
    )
    torch.manual_seed(0)
    model = transformers.Sam3TrackerVideoModel(config).eval()
    with torch.no_grad():  # random weights: make the object-score head say "still there"
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(10.0)
    return model


@pytest.fixture(scope="module")
def model() -> object:
    return tiny_model()


def make(model: object, **kw: object) -> Sam3VideoTracker:
    settings = DetectSettings(score_threshold=0.35, hold_seconds=float(kw.pop("hold", 2.0)))  # type: ignore[arg-type]
    return Sam3VideoTracker(settings, model=model, device="cpu", mask_threshold=float("-inf"),  # type: ignore[arg-type]
                            **kw)  # type: ignore[arg-type]


def frame(t: float, seed: int = 0) -> Frame:
    return Frame(np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8), t, "s")


def box_mask(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y1:y2, x1:x2] = True
    return m


def detections(masks: list[np.ndarray], labels: tuple[str, ...], scores: list[float]) -> Detections:
    return Detections(np.stack([mask_to_box(m) for m in masks]).astype(np.float32), np.array(scores, np.float32),
                      labels, masks=np.stack(masks), concepts=labels)


def first_two(tracker: Sam3VideoTracker) -> Detections:
    tracker.propagate(frame(0.0), timestamp=0.0)
    dets = detections([box_mask(10, 10, 60, 50), box_mask(90, 30, 150, 85)], ("person", "dog"), [0.9, 0.8])
    return tracker.update(dets, timestamp=0.0)


def test_registered_and_protocol(model: object) -> None:
    tracker = make(model)
    assert TRACKERS.get("sam3-video") is Sam3VideoTracker and isinstance(tracker, Tracker)


def test_propagation_masks_ids_and_boxes(model: object) -> None:
    tracker = make(model)
    out = first_two(tracker)
    assert out.track_ids is not None and out.track_ids.tolist() == [1, 2] and out.labels == ("person", "dog")
    for k in range(1, 4):
        carried = tracker.propagate(frame(k * 0.5, seed=k), timestamp=k * 0.5)
        assert carried.track_ids is not None and sorted(carried.track_ids.tolist()) == [1, 2]  # ids stable
        assert carried.masks is not None and carried.masks.shape == (2, H, W)
        by_id = dict(zip(carried.track_ids.tolist(), carried.labels, strict=True))
        assert by_id == {1: "person", 2: "dog"} and set(carried.concepts or ()) == {"person", "dog"}
        for box, mask in zip(carried.xyxy, carried.masks, strict=True):
            assert mask.any() and np.array_equal(box, mask_to_box(mask))  # box = the mask's tight box


def test_redetection_keeps_ids_and_weak_boxes_start_nothing(model: object) -> None:
    tracker = make(model, match_iou=0.0)  # random weights: any overlap with the carried mask is a match
    first_two(tracker)
    carried = tracker.propagate(frame(0.5, seed=1), timestamp=0.5)
    assert carried.masks is not None and carried.track_ids is not None
    again = Detections(carried.xyxy, np.full(len(carried), 0.9, np.float32), carried.labels,
                       masks=carried.masks, concepts=carried.labels)
    weak = detections([box_mask(0, 0, 5, 5)], ("cat",), [0.2])
    merged = Detections(np.concatenate([again.xyxy, weak.xyxy]), np.concatenate([again.scores, weak.scores]),
                        again.labels + weak.labels, masks=np.concatenate([again.masks, weak.masks]),  # type: ignore[list-item]
                        concepts=again.labels + weak.labels)
    out = tracker.update(merged, timestamp=0.5)
    assert out.track_ids is not None and out.track_ids.tolist() == [*carried.track_ids.tolist(), -1]
    assert sorted(tracker.track_ids) == [1, 2]
    new = tracker.update(detections([box_mask(0, 0, 8, 8)], ("cat",), [0.9]), timestamp=0.5)
    assert new.track_ids is not None and new.track_ids[0] == 3  # a strong unmatched box starts a new id
    assert sorted(tracker.propagate(frame(1.0, seed=2), timestamp=1.0).track_ids.tolist()) == [1, 2, 3]  # type: ignore[union-attr]


def test_hold_then_drop_and_memory_bounded(model: object) -> None:
    tracker = make(model, hold=0.4, object_score_threshold=1e9)  # the tracker sees every object as gone
    first_two(tracker)
    assert len(tracker.propagate(frame(0.3, seed=1), timestamp=0.3)) == 0 and len(tracker.track_ids) == 2
    tracker.propagate(frame(1.0, seed=2), timestamp=1.0)
    assert tracker.track_ids == () and tracker._session.get_obj_num() == 0
    assert list(tracker._session.processed_frames) == [2]  # only the current frame is kept


def test_reset_clears_state_and_update_needs_a_frame(model: object) -> None:
    tracker = make(model)
    first_two(tracker)
    tracker.reset()
    assert tracker.track_ids == () and len(tracker.propagate(frame(5.0), timestamp=5.0)) == 0
    out = tracker.update(detections([box_mask(10, 10, 60, 50)], ("person",), [0.9]), timestamp=5.0)
    assert out.track_ids is not None and out.track_ids[0] == 3  # ids never repeat after a reset
    with pytest.raises(ScenewatchError, match="propagate"):
        tracker.update(Detections.empty(), timestamp=6.0)


def test_object_stage_redetects_every_reprompt_seconds(model: object, tmp_path: Path) -> None:
    from scenewatch.config import Config
    from scenewatch.perception.detect.stage import ObjectStage
    from scenewatch.perception.stage import KeyframeShared, StageContext
    from scenewatch.types import Keyframe, SourceInfo

    class Boxes:
        name = "fake"
        vocabulary = None

        def detect(self, f: Frame, concepts: object) -> Detections:
            return detections([box_mask(10, 10, 60, 50)], ("person",), [0.9])

    cfg = Config.model_validate({"perception": {"detect": {"reprompt_seconds": 1.0}}})
    info = SourceInfo(id="s", uri="s.mp4", kind="file", duration=3.0, width=W, height=H, fps=2.0,
                      video_codec="h264", audio_codec=None)
    ctx = StageContext(cfg.perception, info, tmp_path / "media", ("person",))
    stage = ObjectStage(ctx, detector=Boxes(), tracker=make(model))  # type: ignore[arg-type]
    for k in range(5):
        kf = Keyframe(frame(k * 0.5, seed=k), reason="interval", change=0.5)
        stage.on_keyframe(kf, KeyframeShared())
    assert stage.detector_runs == 3  # t = 0, 1.0, 2.0
