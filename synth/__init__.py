"""Synthetic scenes with exact ground truth for testing triggers and reasoning.

Example:
    >>> from synth import build_scene
    >>> scene = build_scene("front_door")
    >>> scene.truth.sounds[0].label
    'Doorbell'
"""

from __future__ import annotations

from collections.abc import Sequence

from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore
from scenewatch.types import Observation, SourceInfo
from synth.scene import PerceptionNoise, SceneTruth, SyntheticScene, perceive
from synth.scenes import SCENES

__all__ = ["SCENES", "SceneTruth", "SyntheticScene", "build_scene", "load_scene"]


def build_scene(name: str, seed: int = 0, noise: PerceptionNoise | None = None,
                extra: Sequence[Observation] = ()) -> SyntheticScene:
    """Truth and noisy observations of a named scene (``front_door``, ``driveway``, ``office``).

    Raises:
        ScenewatchError: unknown scene name.
    """
    if name not in SCENES:
        raise ScenewatchError(f"unknown synthetic scene {name!r}; choose one of: {', '.join(SCENES)}")
    return perceive(SCENES[name](), seed=seed, noise=noise, extra=extra)


def load_scene(store: TimelineStore, scene: SyntheticScene) -> list[int]:
    """Register the scene as a source and commit its observations; returns the new row ids."""
    t = scene.truth
    store.upsert_source(SourceInfo(id=t.source_id, uri=f"synth://{t.name}", kind="file", duration=t.duration,
                                   width=t.width, height=t.height, fps=25.0))
    ids = store.commit_batch(scene.observations, progress=(t.source_id, t.duration))
    store.set_source_status(t.source_id, "done")
    return ids
