"""Reviews: a person marks an event, a timeline row or an answer correct or wrong, or corrects it.

A review is stored beside what it reviews (table ``reviews``) and never changes the original: the
original row keeps what the model perceived, the review keeps what a person said is true, and the
export reads both. The newest review of a target is the one that counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

from scenewatch.errors import ScenewatchError
from scenewatch.memory.store import TimelineStore
from scenewatch.types import Event, Observation

ReviewTarget = Literal["event", "observation", "answer"]
Verdict = Literal["correct", "wrong", "corrected"]
Box = tuple[float, float, float, float]


class ReviewError(ScenewatchError):
    """A review names a target that does not exist or carries an impossible correction."""


@dataclass(frozen=True)
class Correction:
    """What a reviewer says is true; ``None`` fields keep the original value."""

    label: str | None = None
    start: float | None = None
    end: float | None = None
    box: Box | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ReviewError(f"corrected span ends before it starts ({self.start} > {self.end})")
        if self.start is not None and self.start < 0:
            raise ReviewError(f"corrected start {self.start} is negative")
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            if not (0 <= x1 < x2 and 0 <= y1 < y2):
                raise ReviewError(f"corrected box {list(self.box)} is not [x1, y1, x2, y2] with x1<x2, y1<y2, >= 0")
        if self.label is not None and not self.label.strip():
            raise ReviewError("corrected label is empty")

    def is_empty(self) -> bool:
        """True when nothing is corrected."""
        return all(v is None for v in asdict(self).values())


@dataclass(frozen=True)
class Review:
    """One stored review.

    Attributes:
        target: what was reviewed: ``event``, ``observation`` (a track or any timeline row) or ``answer``.
        target_id: the event or observation id; ``None`` for answers.
        verdict: ``correct``, ``wrong`` or ``corrected``.
        correction: the corrected values (empty unless ``corrected``).
        original: a JSON snapshot of what was reviewed, taken when the review was made.
        question: the question of a reviewed answer.
    """

    target: ReviewTarget
    target_id: int | None
    verdict: Verdict
    source_id: str = ""
    correction: Correction = field(default_factory=Correction)
    original: Mapping[str, Any] = field(default_factory=dict)
    question: str | None = None
    note: str = ""
    created_at: float = 0.0
    id: int | None = None


def _snapshot_observation(obs: Observation) -> dict[str, Any]:
    return {"kind": obs.kind, "label": obs.label, "text": obs.text, "start": obs.start, "end": obs.end,
            "box": list(obs.box) if obs.box else None, "confidence": obs.confidence}


def _snapshot_event(event: Event) -> dict[str, Any]:
    return {"rule": event.rule, "title": event.title, "summary": event.summary, "start": event.start,
            "end": event.end, "observation_ids": list(event.observation_ids)}


def get_event(store: TimelineStore, event_id: int) -> Event | None:
    """One stored event by id."""
    return next((e for e in store.events() if e.id == event_id), None)


def add_review(
    store: TimelineStore,
    target: ReviewTarget,
    target_id: int | None,
    verdict: Literal["correct", "wrong"] | None = None,
    correction: Correction | None = None,
    *,
    question: str | None = None,
    answer: str | None = None,
    evidence: Sequence[int] = (),
    source_id: str = "",
    note: str = "",
) -> Review:
    """Store a verdict or a correction for an event, an observation or an answer.

    Args:
        store: the timeline (opened for writing).
        target: ``event``, ``observation`` or ``answer``.
        target_id: event/observation id; ignored for answers.
        verdict: ``correct`` or ``wrong``; leave ``None`` when giving a correction.
        correction: corrected values; makes the verdict ``corrected``.
        question: the question, for an answer.
        answer: the answer text as given, for an answer.
        evidence: observation ids the answer cited.
        source_id: the source an answer was about.
        note: free text from the reviewer.

    Raises:
        ReviewError: unknown target, missing id, or nothing to store.
    """
    if target not in get_args(ReviewTarget):
        raise ReviewError(f"unknown review target {target!r} (event, observation, answer)")
    correction = correction or Correction()
    if correction.is_empty() and verdict is None:
        raise ReviewError("a review needs a verdict (correct/wrong) or a correction")
    if not correction.is_empty() and verdict == "correct":
        raise ReviewError("a correction cannot also be marked correct")
    final: Verdict = "corrected" if not correction.is_empty() else (verdict or "correct")
    original: dict[str, Any]
    if target == "answer":
        if not question or answer is None:
            raise ReviewError("reviewing an answer needs the question and the answer text")
        target_id = None
        original = {"question": question, "text": answer, "evidence": list(evidence)}
    elif target_id is None:
        raise ReviewError(f"reviewing an {target} needs its id")
    elif target == "event":
        event = get_event(store, target_id)
        if event is None:
            raise ReviewError(f"no event with id {target_id}")
        original, source_id = _snapshot_event(event), event.source_id
    else:
        obs = store.get_observation(target_id)
        if obs is None:
            raise ReviewError(f"no observation with id {target_id}")
        original, source_id = _snapshot_observation(obs), obs.source_id
    if target != "answer":
        start = correction.start if correction.start is not None else float(original["start"])
        end = correction.end if correction.end is not None else float(original["end"])
        if end < start:
            raise ReviewError(f"the corrected span would end before it starts ({start} > {end})")
    now = time.time()
    c = correction
    with store.transaction() as conn:
        cur = conn.execute(
            'INSERT INTO reviews(target, target_id, source_id, verdict, label, start, "end", box, text, question, '
            "original, note, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (target, target_id, source_id, final, c.label, c.start, c.end,
             json.dumps(list(c.box)) if c.box else None, c.text, question, json.dumps(original), note, now),
        )
        rid = int(cur.lastrowid or 0)
    return Review(target=target, target_id=target_id, verdict=final, source_id=source_id, correction=c,
                  original=original, question=question, note=note, created_at=now, id=rid)


_REVIEW_COLUMNS = 'id, target, target_id, source_id, verdict, label, start, "end", box, text, question, original, ' \
                  "note, created_at"


def _row_to_review(row: Sequence[Any]) -> Review:
    (rid, target, target_id, source_id, verdict, label, start, end, box, text, question, original, note,
     created) = row
    corr = Correction(label=label, start=start, end=end, box=tuple(json.loads(box)) if box else None, text=text)
    return Review(target=target, target_id=target_id, verdict=verdict, source_id=source_id, correction=corr,
                  original=json.loads(original), question=question, note=note, created_at=created, id=rid)


def list_reviews(store: TimelineStore, target: ReviewTarget | None = None, source_id: str | None = None,
                 since: float | None = None) -> list[Review]:
    """Stored reviews, oldest first.

    Args:
        target: only reviews of this kind of target.
        source_id: only reviews about this source.
        since: only reviews made at or after this wall-clock time (Unix seconds).
    """
    sql = f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE 1=1"
    params: list[Any] = []
    if target is not None:
        sql += " AND target=?"
        params.append(target)
    if source_id is not None:
        sql += " AND source_id=?"
        params.append(source_id)
    if since is not None:
        sql += " AND created_at>=?"
        params.append(since)
    return [_row_to_review(r) for r in store.execute(sql + " ORDER BY created_at, id", params)]


def latest_reviews(reviews: Sequence[Review]) -> dict[tuple[str, int], Review]:
    """The newest review per event/observation (answers are keyed by review id)."""
    out: dict[tuple[str, int], Review] = {}
    for r in sorted(reviews, key=lambda r: (r.created_at, r.id or 0)):
        key = (r.target, r.target_id if r.target_id is not None else -(r.id or 0))
        out[key] = r
    return out


def apply_correction(obs: Observation, review: Review | None) -> Observation:
    """The observation as the reviewer says it is (a new object; the stored row is untouched)."""
    if review is None or review.verdict != "corrected":
        return obs
    c = review.correction
    label = c.label if c.label is not None else obs.label
    text = c.text if c.text is not None else (c.label if c.label is not None and obs.text == obs.label else obs.text)
    return replace(obs, label=label, text=text, start=c.start if c.start is not None else obs.start,
                   end=c.end if c.end is not None else obs.end, box=c.box if c.box is not None else obs.box,
                   payload=obs.payload)
