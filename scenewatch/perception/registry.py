"""Registry of pipeline stages by name (lazy: nothing heavy is imported here).

A stage class is built as ``cls(ctx: StageContext)``; a missing optional dependency raises
:class:`~scenewatch.errors.BackendUnavailable` from the constructor.
"""

from __future__ import annotations

from scenewatch.registry import Registry

STAGES: Registry[type] = Registry(
    "stage",
    {
        "scene": "scenewatch.perception.scene:SceneStage",
        "objects": "scenewatch.perception.detect.stage:ObjectStage",
        "arrivals": "scenewatch.perception.arrivals.stage:ArrivalStage",
        "text": "scenewatch.perception.ocr.stage:TextStage",
        "speech": "scenewatch.perception.asr.stage:SpeechStage",
        "sounds": "scenewatch.perception.sounds.stage:SoundStage",
    },
)
