"""Reviews for learning: mark events, tracks (any timeline row) and answers correct/wrong, or correct them.

A review is stored beside what it reviews (``runtime.training_service.review``); the original event
or row never changes. Reviewing an event also sets its review state (wrong → false positive), so the
Events feed and MQTT ``update`` messages follow.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from scenewatch.api.deps import ServerState, get_state
from scenewatch.runtime import queries, training_service

router = APIRouter(prefix="/reviews", tags=["reviews"])
Seconds = Annotated[float, Field(ge=0, le=1e7)]
Coordinate = Annotated[float, Field(ge=0, le=1e5)]
RowId = Annotated[int, Path(ge=1, le=2**62)]  # an Annotated alias: FastAPI copies it per route


class ReviewBody(BaseModel):
    """A verdict, or corrected values (fields left out keep the original)."""

    verdict: Literal["correct", "wrong"] | None = Field(None, description="leave out when correcting")
    label: str | None = Field(None, min_length=1, max_length=200)
    start: Seconds | None = None
    end: Seconds | None = None
    box: list[Coordinate] | None = Field(None, min_length=4, max_length=4, description="[x1, y1, x2, y2] pixels")
    text: str | None = Field(None, max_length=2000)
    note: str = Field("", max_length=2000)


class AnswerReviewBody(BaseModel):
    """A verdict on an answer the Ask page gave, or its corrected text."""

    question: str = Field(..., min_length=1, max_length=2000)
    answer: str = Field(..., max_length=20000)
    evidence: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default_factory=list, max_length=200)
    source_id: str = Field("", max_length=200)
    verdict: Literal["correct", "wrong"] | None = None
    text: str | None = Field(None, min_length=1, max_length=20000, description="the right answer")
    note: str = Field("", max_length=2000)


def _review(server: ServerState, target: Literal["event", "observation"], target_id: int,
            body: ReviewBody) -> dict[str, Any]:
    fixed = training_service.correction(label=body.label, start=body.start, end=body.end, box=body.box,
                                        text=body.text)
    stored = training_service.review(server.config, target, target_id, body.verdict, fixed, note=body.note)
    return asdict(stored)


@router.get("")
def list_reviews(
    target: Literal["event", "observation", "answer"] | None = Query(None),
    source_id: str | None = Query(None, max_length=200),
    server: ServerState = Depends(get_state),
) -> list[dict[str, Any]]:
    """Stored reviews, oldest first (the newest review of a target counts)."""
    return [asdict(r) for r in training_service.reviews(server.config, target, source_id)]


@router.post("/events/{event_id}", status_code=201)
def review_event(body: ReviewBody, event_id: RowId, server: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Mark an event correct/wrong or correct its label/time span/box; the event itself is kept as fired."""
    queries.get_event(server.store, event_id)  # 404 for an unknown id
    stored = _review(server, "event", event_id, body)
    event = queries.review_event(server.store, event_id, state="reviewed", false_positive=body.verdict == "wrong",
                                 note=body.note or None)
    return {"review": stored, "event": event}


@router.post("/observations/{observation_id}", status_code=201)
def review_observation(body: ReviewBody, observation_id: RowId,
                       server: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Mark a track (any timeline row) correct/wrong or correct it; the stored row is kept as perceived."""
    queries.get_observation(server.store, observation_id)  # 404 for an unknown id
    return {"review": _review(server, "observation", observation_id, body)}


@router.post("/answers", status_code=201)
def review_answer(body: AnswerReviewBody, server: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Mark an answer correct/wrong, or store the right text beside it."""
    fixed = training_service.correction(text=body.text)
    stored = training_service.review(server.config, "answer", None, body.verdict, fixed, question=body.question,
                                     answer=body.answer, evidence=body.evidence, source_id=body.source_id,
                                     note=body.note)
    return {"review": asdict(stored)}
