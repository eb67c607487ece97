"""One span type after the store, and the one function that merges rows into spans.

Stages store one row per keyframe/segment; everything that reads the store — question
answering, event summaries, reports, the compressed reasoner context — first merges the
rows of one thing into a :class:`Span`. Rows of the same source and kind merge when the
gap between them is at most ``max_gap`` seconds and they are the same thing:

* objects: same label and track;
* sounds, scenes, motion, gaps: same label;
* text, speech and captions: decided by a :data:`SameThing` policy. The default,
  :func:`same_place`, joins text read at overlapping boxes (one sign read every keyframe,
  its misreads outvoted) and keeps every speech segment and caption its own span; search
  passes :func:`same_text` (the same words) and the reasoner context a similarity policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scenewatch.types import Observation

Box = tuple[float, float, float, float]

TEXT_KINDS = frozenset({"text", "speech", "caption"})
"""Kinds whose rows carry their meaning in ``text`` (merged by a policy, not by label)."""

SameThing = Callable[[Observation, Sequence[Observation]], bool]
"""``policy(row, run)``: whether a text-bearing ``row`` continues the open ``run`` (time order)."""


@dataclass(frozen=True, slots=True)
class Span:
    """Rows of one thing merged into one time span.

    Attributes:
        kind: observation kind.
        label: label of the rows.
        source_id: source.
        start: start of the first row.
        end: end of the last row.
        confidence: highest row confidence.
        track_id: tracker id (objects), else ``None``.
        text: majority reading of text-bearing rows (OCR, speech, captions), else ``""``.
        ids: ids of the merged rows, in time order.
        first_box: box of the first row.
        last_box: box of the last row.
        wall_start: wall-clock time of ``start`` for live sources.
        boxes: every row's box, in time order.
        rows: the merged rows, in time order.
    """

    kind: str
    label: str
    source_id: str
    start: float
    end: float
    confidence: float
    track_id: int | None = None
    text: str = ""
    ids: tuple[int, ...] = ()
    first_box: Box | None = None
    last_box: Box | None = None
    wall_start: float | None = None
    boxes: tuple[Box, ...] = field(default=(), repr=False)
    rows: tuple[Observation, ...] = field(default=(), repr=False, compare=False)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start

    @property
    def name(self) -> str:
        """Human name: the label, or the kind for unlabeled rows."""
        return self.label if self.label and self.label not in ("text", "speech") else self.kind

    @property
    def best(self) -> Observation:
        """The most confident row (earliest on ties): the one a context line cites."""
        return max(self.rows, key=lambda o: (o.confidence, -o.start))


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_place(row: Observation, run: Sequence[Observation]) -> bool:
    """Default policy: text joins a run read at an overlapping box (IoU > 0.3); speech and captions never join."""
    last = run[-1]
    return row.kind == "text" and row.box is not None and last.box is not None and _iou(row.box, last.box) > 0.3


def same_text(row: Observation, run: Sequence[Observation]) -> bool:
    """Policy for search hits: text/speech rows join a run whose last row has the same words (any case)."""
    return normal_text(row.text).lower() == normal_text(run[-1].text).lower()


def _group_key(o: Observation) -> tuple[Any, ...]:
    if o.kind == "object":
        return (o.source_id, o.kind, o.label.lower(), o.track_id)
    if o.kind in TEXT_KINDS:
        return (o.source_id, o.kind)
    return (o.source_id, o.kind, o.label.lower())


def normal_text(text: str) -> str:
    """Text with runs of whitespace collapsed (how readings are compared and voted)."""
    return " ".join(text.split())


def merge_spans(rows: Iterable[Observation], max_gap: float = 1.0, same_thing: SameThing = same_place) -> list[Span]:
    """Merge rows into spans, sorted by ``(start, kind, label)``.

    Args:
        rows: observations in any order.
        max_gap: a gap longer than this many seconds starts a new span.
        same_thing: when a text/speech/caption row continues an open run (default :func:`same_place`).
    """
    groups: dict[tuple[Any, ...], list[list[Observation]]] = {}
    for o in sorted(rows, key=lambda r: (r.start, r.id or 0)):
        runs = groups.setdefault(_group_key(o), [])
        target = None
        for run in reversed(runs):
            if o.start - max(r.end for r in run) > max_gap:
                continue
            if o.kind in TEXT_KINDS and not same_thing(o, run):
                continue
            target = run
            break
        if target is None:
            runs.append([o])
        else:
            target.append(o)
    spans = [to_span(run) for runs in groups.values() for run in runs]
    spans.sort(key=lambda s: (s.start, s.kind, s.label))
    return spans


def to_span(run: Sequence[Observation]) -> Span:
    """One span from rows of one thing (time order); its text is the majority reading.

    Ties between readings go to the one read with the highest confidence, so one misread
    keyframe never wins over the reading seen most often.
    """
    first, last = run[0], run[-1]
    text = ""
    if first.kind in TEXT_KINDS:
        votes = Counter(t for t in (normal_text(r.text) for r in run) if t)
        if votes:
            best_conf = {t: max(r.confidence for r in run if normal_text(r.text) == t) for t in votes}
            text = max(votes, key=lambda t: (votes[t], best_conf[t]))
    return Span(
        kind=first.kind, label=first.label, source_id=first.source_id, start=first.start,
        end=max(r.end for r in run), confidence=max(r.confidence for r in run), track_id=first.track_id,
        text=text, ids=tuple(int(r.id or 0) for r in run), first_box=first.box, last_box=last.box,
        wall_start=first.wall_start, boxes=tuple(r.box for r in run if r.box is not None), rows=tuple(run),
    )
