"""Settings of the Ray cluster (``cluster:`` in the config): where it is, how work is cut, what each stage needs.

Kept apart from :mod:`scenewatch.runtime.cluster` so the config tree never imports Ray.
"""

from __future__ import annotations

from pydantic import Field

from scenewatch._settings_base import Section

GPU_BACKENDS = frozenset({"sam3", "sam3-video", "trocr", "hf-whisper", "qwen2-audio", "siglip2"})
"""Stage backends that want a GPU (full tier); the default tier runs on CPUs."""

DEFAULT_STAGE_CPUS = {"scene": 0.25, "objects": 1.0, "arrivals": 0.25, "text": 0.5, "speech": 1.0, "sounds": 0.25}
"""CPU cores each default-tier stage keeps busy on a busy 640×360 stream (measured: benchmarks/pipeline.py)."""


class StageResources(Section):
    """What one stage asks the cluster for (Ray ``num_cpus`` / ``num_gpus``)."""

    num_cpus: float = Field(0.5, ge=0, description="CPU cores the stage keeps busy")
    num_gpus: float = Field(0.0, ge=0, le=8, description="GPUs (a fraction shares one)")
    resources: dict[str, float] = Field(
        default_factory=dict, description="custom Ray resources a remote stage's actor asks for, e.g. {gpu_node: 1}")


class ClusterSettings(Section):
    """A Ray cluster for ``index --ray`` and ``serve --ray``."""

    address: str | None = Field(None, description="Ray address ('auto', 'ray://head:10001'); None: a local cluster")
    workers: int | None = Field(None, ge=1, description="index worker actors (None: as many as CPUs allow)")
    worker_cpus: float = Field(2.0, gt=0, description="CPU cores one index worker asks for (decode + stages)")
    chunk_seconds: float = Field(600.0, ge=10, description="index: split files longer than 1.5x this")
    overlap: float | None = Field(None, ge=0, description="index: chunk lead/tail seconds (None: from the stages)")
    max_in_flight: int | None = Field(None, ge=1, description="index: units queued at once (None: 2 per worker)")
    max_restarts: int = Field(3, ge=-1, description="times Ray restarts a crashed actor (-1: always)")
    unit_retries: int = Field(3, ge=0, description="index: times a unit lost with its worker runs again")
    stages: dict[str, StageResources] = Field(
        default_factory=dict, description="per-stage resources overriding the defaults (GPU stages ask for a GPU)")
    remote_stages: list[str] = Field(
        default_factory=list, description="stages run in their own actor, one per stage shared by every source and "
        "index worker, fed with keyframes ('gpu': every stage asking for a GPU); the rest run beside decoding")
    remote_timeout: float = Field(120.0, gt=0, description="seconds one remote stage call may take")
    remote_replay: int = Field(900, ge=0, description="inputs a source keeps to rebuild a lost remote stage's state")
    remote_concurrency: int = Field(4, ge=1, description="sources one remote stage actor serves at once")
