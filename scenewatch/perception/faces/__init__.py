"""Known faces (opt-in; biometric data kept only in the local database).

BlazeFace finds the face on a person box, FaceRes describes it (1024-d), and a
:class:`~scenewatch.perception.faces.gallery.Gallery` of enrolled people and unnamed clusters
says who it is. Heavy imports (onnxruntime, cv2) happen inside the model classes.
"""

from __future__ import annotations

from scenewatch.perception.faces.gallery import FaceMatch, Gallery
from scenewatch.perception.faces.settings import FaceSettings

__all__ = ["FaceMatch", "FaceSettings", "Gallery"]
