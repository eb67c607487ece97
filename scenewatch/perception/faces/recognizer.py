"""Faces on person boxes: detect the face in the upper body, describe it, and say who it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.faces.gallery import FaceMatch, Gallery
from scenewatch.perception.faces.models import FaceBox, FaceDetector, FaceEmbedder, face_crop
from scenewatch.perception.faces.settings import FaceSettings


@dataclass(frozen=True)
class FaceSighting:
    """One described face.

    Attributes:
        box: the face in frame pixels.
        vector: L2-normalised descriptor.
        crop: the face crop (RGB uint8) the descriptor was computed from.
    """

    box: FaceBox
    vector: NDArray[np.float32]
    crop: NDArray[np.uint8]


class FaceRecognizer:
    """BlazeFace + FaceRes with the thresholds of :class:`FaceSettings`."""

    def __init__(self, settings: FaceSettings | None = None, cache_dir: Path | None = None) -> None:
        self.settings = settings or FaceSettings()
        self.detector = FaceDetector(self.settings.min_face_score, cache_dir)
        self.embedder = FaceEmbedder(cache_dir)

    def describe(self, image: NDArray[np.uint8], region: NDArray[np.float32] | None = None) -> FaceSighting | None:
        """The largest face in ``image`` (or inside ``region`` xyxy, e.g. a person box), described."""
        x0 = y0 = 0
        view = image
        if region is not None:
            h, w = image.shape[:2]
            x1, y1, x2, y2 = (round(float(v)) for v in region)
            x0, y0 = max(0, x1), max(0, y1)
            x2, y2 = min(w, x2), min(h, y2)
            # the face sits in the top of a standing person's box; a lying person's box is wide
            if y2 - y0 > 1.3 * (x2 - x0):
                y2 = y0 + int(0.6 * (y2 - y0))
            view = image[y0:y2, x0:x2]
        if view.shape[0] < self.settings.min_face_px or view.shape[1] < self.settings.min_face_px:
            return None
        faces = [f for f in self.detector.detect(np.ascontiguousarray(view))
                 if min(f.xyxy[2] - f.xyxy[0], f.xyxy[3] - f.xyxy[1]) >= self.settings.min_face_px]
        if not faces:
            return None
        face = max(faces, key=lambda f: float((f.xyxy[2] - f.xyxy[0]) * (f.xyxy[3] - f.xyxy[1])))
        offset = np.array([x0, y0, x0, y0], np.float32)
        box = FaceBox(face.xyxy + offset, face.score, face.landmarks + offset[:2])
        crop = face_crop(image, box.xyxy, self.settings.crop_scale)
        return FaceSighting(box, self.embedder.embed(crop), crop)

    def identify(self, image: NDArray[np.uint8], gallery: Gallery,
                 region: NDArray[np.float32] | None = None) -> tuple[FaceSighting, FaceMatch] | None:
        """Describe the face in ``region`` and match it (unknown faces join or start a cluster)."""
        sighting = self.describe(image, region)
        if sighting is None:
            return None
        return sighting, gallery.observe(sighting.vector)
