"""Settings of the perception layer: which stages run and each stage's backend settings.

Perception reads only this section of the config tree; the root :mod:`scenewatch.config`
composes it with the other layers' sections.
"""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section
from scenewatch.perception.arrivals.settings import ArrivalSettings
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.perception.detect.settings import DetectSettings
from scenewatch.perception.embed.settings import EmbedSettings
from scenewatch.perception.faces.settings import FaceSettings
from scenewatch.perception.ocr.settings import OcrSettings
from scenewatch.perception.pose.settings import PoseSettings
from scenewatch.perception.sounds.settings import SoundSettings

DEFAULT_STAGES = ["scene", "objects", "arrivals", "text", "speech", "sounds"]


class PerceptionSettings(Section):
    """Which perception stages run and their backends."""

    stages: list[str] = Field(default_factory=lambda: list(DEFAULT_STAGES),
                              description="stages the watch pipeline runs, by registered name")
    asr: AsrSettings = AsrSettings()
    sounds: SoundSettings = SoundSettings()
    detect: DetectSettings = DetectSettings()
    arrivals: ArrivalSettings = ArrivalSettings()
    ocr: OcrSettings = OcrSettings()
    embed: EmbedSettings = EmbedSettings()
    faces: FaceSettings = FaceSettings()
    pose: PoseSettings = PoseSettings()
