"""Media: a frame at time t with boxes, the latest frame, thumbnails, clips, the source video."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from scenewatch.api.deps import ServerState, get_state
from scenewatch.runtime import media, queries

router = APIRouter(prefix="/media", tags=["media"])
SourceId = Path(..., min_length=1, max_length=200)
BOX_KINDS = ("object", "text")


def _source(state: ServerState, source_id: str) -> dict[str, Any]:
    return queries.source_row(state.store, source_id)


def _boxes_at(state: ServerState, source_id: str, t: float, slack: float = 0.5) -> list[tuple[Any, str, str]]:
    flt = queries.ObservationFilter(source_id=source_id, kinds=BOX_KINDS, since=t - slack, until=t + slack,
                                    min_confidence=0.3)
    rows = queries.observations_page(state.store, flt, 200)["items"]
    return [(r["box"], r["text"] if r["kind"] == "text" else r["label"], r["kind"]) for r in rows if r["box"]]


def _jpeg(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})


@router.get("/{source_id}/frame", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def frame(
    source_id: str = SourceId,
    t: float = Query(..., ge=0, le=1e7, description="media seconds"),
    boxes: bool = Query(True, description="draw the boxes of objects and text seen around t"),
    width: int | None = Query(None, ge=16, le=3840),
    state: ServerState = Depends(get_state),
) -> Response:
    """The frame shown at media time ``t`` (a keyframe view), with boxes."""
    row = _source(state, source_id)
    if row["kind"] != "file":
        raise queries.BadRequest("frames at a time need a file source; use /latest for live sources")
    image = await run_in_threadpool(media.frame_at, row["uri"], t)
    drawn = _boxes_at(state, source_id, t) if boxes else []
    return _jpeg(await run_in_threadpool(media.jpeg, image, drawn, width))


@router.get("/{source_id}/latest", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def latest(
    source_id: str = SourceId,
    width: int | None = Query(None, ge=16, le=3840),
    state: ServerState = Depends(get_state),
) -> Response:
    """The latest analysed frame of a source with the boxes seen then (live: a fresh frame)."""
    row = _source(state, source_id)
    live = row["kind"] != "file"
    t = max(0.0, float(row["processed_until"]) - 0.05)
    image = await run_in_threadpool(media.frame_at, row["uri"], t, live)
    return _jpeg(await run_in_threadpool(media.jpeg, image, _boxes_at(state, source_id, t, 1.0), width))


@router.get("/thumbnail", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}})
def thumbnail(path: str = Query(..., min_length=1, max_length=1024, description="path relative to the media dir"),
              state: ServerState = Depends(get_state)) -> FileResponse:
    """A thumbnail file stored under the media directory (never outside it)."""
    return FileResponse(media.safe_media_path(state.media_dir, path))


@router.get("/observations/{observation_id}/thumbnail", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
async def observation_thumbnail(observation_id: int = Path(..., ge=1, le=2**62),
                                width: int = Query(320, ge=16, le=1920),
                                state: ServerState = Depends(get_state)) -> Response:
    """A thumbnail of an observation: its stored one, else its frame with its box."""
    obs = queries.get_observation(state.store, observation_id)
    stored = queries.payload_json(obs).get("thumbnail")
    if stored:
        try:
            return FileResponse(media.safe_media_path(state.media_dir, str(stored)))
        except (queries.NotFound, queries.BadRequest):
            pass
    row = _source(state, obs.source_id)
    if row["kind"] != "file":
        raise queries.NotFound("no thumbnail for this observation")
    image = await run_in_threadpool(media.frame_at, row["uri"], obs.start)
    label = obs.text if obs.kind == "text" else obs.label
    return _jpeg(await run_in_threadpool(media.jpeg, image, [(obs.box, label, obs.kind)] if obs.box else [], width))


@router.get("/{source_id}/clip", response_class=FileResponse, responses={200: {"content": {"video/mp4": {}}}})
async def clip(
    background: BackgroundTasks,
    source_id: str = SourceId,
    start: float = Query(..., ge=0, le=1e7),
    end: float = Query(..., ge=0, le=1e7),
    state: ServerState = Depends(get_state),
) -> FileResponse:
    """An MP4 clip of ``[start, end]`` media seconds (at most ``serve.max_clip_seconds``)."""
    row = _source(state, source_id)
    if row["kind"] != "file":
        raise queries.BadRequest("clips need a file source")
    if row["duration"] is not None and start >= float(row["duration"]):
        raise queries.NotFound(f"the source ends at {float(row['duration']):.1f} s")
    path = await run_in_threadpool(media.cut_clip, row["uri"], start, end, state.config.serve.max_clip_seconds)
    background.add_task(FsPath(path).unlink, missing_ok=True)
    return FileResponse(path, media_type="video/mp4", filename=f"{source_id}-{start:.0f}-{end:.0f}.mp4")


@router.get("/{source_id}/video", response_class=FileResponse, responses={200: {"content": {"video/mp4": {}}}})
def video(source_id: str = SourceId, state: ServerState = Depends(get_state)) -> FileResponse:
    """The source's own media file (range requests, so players can seek)."""
    row = _source(state, source_id)
    path = FsPath(row["uri"])
    if row["kind"] != "file" or not path.is_file():
        raise queries.NotFound("this source has no file to play")
    return FileResponse(path, media_type="video/mp4" if path.suffix.lower() in {".mp4", ".m4v", ".mov"} else None)
