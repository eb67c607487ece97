"""Service functions for learning: review, export, dataset checks, fine-tuning and memory plans.

The CLI (and later the API) call only these; each takes the validated config and plain arguments and
returns the typed results of :mod:`scenewatch.training`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scenewatch.config import Config
from scenewatch.errors import ConfigError
from scenewatch.memory.backends import open_store
from scenewatch.memory.store import TimelineStore
from scenewatch.training.dataset import DatasetStats, ValidationReport, dataset_stats, validate_file
from scenewatch.training.export import ExportSettings, ExportSummary, export_dataset
from scenewatch.training.formats import DatasetFormat
from scenewatch.training.reviews import Correction, Review, ReviewError, ReviewTarget, add_review, list_reviews

if TYPE_CHECKING:
    from scenewatch.training.lora import TrainProgress, TrainResult, TrainSettings
    from scenewatch.training.vram import Plan, PlanRequest

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """A ``--since`` value as Unix time: ``2026-11-30``, ``2026-11-30T08:00``, ``3d``/``12h`` ago, or seconds.

    Raises:
        ConfigError: the text is none of these.
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        return (now if now is not None else time.time()) - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(f"--since {text!r}: use an ISO date/time (2026-11-30T08:00), 3d / 12h ago, "
                          "or Unix seconds") from None


def _store(config: Config, readonly: bool = False) -> TimelineStore:
    return open_store(config.store.target, readonly=readonly)


def review(config: Config, target: ReviewTarget, target_id: int | None,
           verdict: Literal["correct", "wrong"] | None = None, correction: Correction | None = None,
           **answer: Any) -> Review:
    """Mark an event, a row or an answer correct/wrong, or store a correction beside it.

    ``answer`` takes ``question``, ``answer``, ``evidence``, ``source_id`` and ``note`` (see
    :func:`scenewatch.training.reviews.add_review`).
    """
    with _store(config) as store:
        return add_review(store, target, target_id, verdict, correction, **answer)


def correction(label: str | None = None, start: float | None = None, end: float | None = None,
               box: Sequence[float] | None = None, text: str | None = None) -> Correction | None:
    """The corrected values as a :class:`Correction` (``None`` when nothing is corrected).

    Raises:
        ReviewError: an impossible correction (reversed span, bad box, empty label).
    """
    if box is not None and len(box) != 4:
        raise ReviewError(f"a corrected box is [x1, y1, x2, y2] (got {len(box)} numbers)")
    fixed = Correction(label=label, start=start, end=end, text=text,
                       box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])) if box is not None else None)
    return None if fixed.is_empty() else fixed


def reviews(config: Config, target: ReviewTarget | None = None, source_id: str | None = None,
            since: str | None = None) -> list[Review]:
    """Stored reviews, oldest first."""
    with _store(config, readonly=True) as store:
        return list_reviews(store, target, source_id, parse_since(since))


def export(config: Config, out: Path, fmt: DatasetFormat = "sharegpt", reviewed_only: bool = False,
           since: str | None = None, seed: int = 0) -> ExportSummary:
    """Export the timeline as a dataset (records + clips) at ``out``."""
    settings = ExportSettings(fmt=fmt, reviewed_only=reviewed_only, since=parse_since(since), seed=seed)
    with _store(config) as store:
        return export_dataset(store, out, settings)


def validate_dataset(path: Path, check_media: bool = True) -> ValidationReport:
    """Check every record of a dataset file (line-numbered problems)."""
    if not Path(path).is_file():
        raise ConfigError(f"no dataset file at {path}")
    return validate_file(path, check_media=check_media)


def stats_of_dataset(path: Path) -> DatasetStats:
    """Counts per question type, label and format."""
    if not Path(path).is_file():
        raise ConfigError(f"no dataset file at {path}")
    return dataset_stats(path)


def train_lora(settings: TrainSettings, on_progress: Callable[[TrainProgress], None] | None = None,
               model: Any = None, processor: Any = None) -> TrainResult:
    """Fine-tune a VL model with LoRA/QLoRA on an exported dataset (see :mod:`scenewatch.training.lora`)."""
    from scenewatch.training.lora import train

    return train(settings, on_progress=on_progress, model=model, processor=processor)


def train_settings(**values: Any) -> TrainSettings:
    """Build validated training settings from CLI values."""
    from scenewatch.training.lora import TrainSettings

    return TrainSettings(**{k: v for k, v in values.items() if v is not None})


def train_region_tokens(result: TrainResult, data: Path, vision: Path, steps: int = 200) -> Path:
    """Train a region-token projector on the dataset's boxes, over the model just trained; saved beside its adapter."""
    from scenewatch.training.ren import RegionEncoder, region_examples, save_projector, train_regions

    encoder = RegionEncoder.from_pretrained(str(vision))
    trained = train_regions(result.model, result.processor, encoder, region_examples(data), steps=steps)
    return save_projector(trained.projector, result.out, encoder=vision)


def merge_adapter(base: str, adapter: Path, out: Path) -> Path:
    """Fold a LoRA adapter into its base model and save the merged model."""
    from scenewatch.training.lora import merge

    return merge(base, adapter, out)


def plan(gpu: str | None = None, models: Sequence[str] | None = None, context: int | None = None,
         mode: str = "inference") -> Plan:
    """A GPU (or CPU) memory plan for a set of models."""
    from scenewatch.training.vram import PlanRequest, make_plan

    request = PlanRequest.from_cli(gpu=gpu, models=models, context=context, mode=mode)
    return make_plan(request)


def plan_request(**values: Any) -> PlanRequest:
    """Parse plan options (for surfaces that want to show the request)."""
    from scenewatch.training.vram import PlanRequest

    return PlanRequest.from_cli(**values)
