"""Sources: list with live worker status, add at run time, show one, stop (and optionally purge)."""

from __future__ import annotations

import uuid
from pathlib import Path as FsPath
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from scenewatch.api.deps import ServerState, get_state, require_manager
from scenewatch.errors import SourceError
from scenewatch.runtime import queries, service
from scenewatch.runtime.server import SourceManager

router = APIRouter(prefix="/sources", tags=["sources"])
SourceId = Path(..., min_length=1, max_length=200, description="source id (see GET /api/sources)")
UPLOAD_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".mpg", ".mpeg",
                             ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac"})
UPLOAD_PATH = "/api/sources/upload"


class SourceCreate(BaseModel):
    """A source to watch: file, folder, live URL or device."""

    uri: str = Field(..., min_length=1, max_length=2048)


def _with_status(state: ServerState, row: dict[str, Any]) -> dict[str, Any]:
    status = state.manager.status_of(row["id"]) if state.manager else None
    return {**row, "reconnects": queries.gap_count(state.store, row["id"]),
            "worker": status.to_json() if status else None}


@router.get("")
def list_sources(state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    """Every stored source with its worker's status (state, fps, lag, reconnects, last error)."""
    rows = [_with_status(state, r) for r in state.store.list_sources()]
    known = {r["uri"] for r in rows} | {sid for r in rows for sid in [r["id"]]}
    if state.manager:  # workers that have not stored a source yet (a live stream still connecting)
        for s in state.manager.statuses():
            if s.uri not in known and not set(s.source_ids) & known:
                rows.append({"id": None, "uri": s.uri, "kind": "live" if s.live else "file", "status": s.state,
                             "processed_until": s.media_time, "error": s.last_error, "duration": s.duration,
                             "reconnects": s.reconnects, "worker": s.to_json()})
    return rows


@router.post("", status_code=202)
async def add_source(body: SourceCreate, manager: SourceManager = Depends(require_manager)) -> dict[str, Any]:
    """Start watching a source now (kept across restarts); 422 when a file does not exist."""
    status = await run_in_threadpool(manager.add, body.uri)
    return status.to_json()


@router.post("/upload", status_code=202)
async def upload_source(
    request: Request,
    filename: str = Query(..., min_length=1, max_length=200, description="original name (its suffix is checked)"),
    state: ServerState = Depends(get_state),
    manager: SourceManager = Depends(require_manager),
) -> dict[str, Any]:
    """Upload a media file as the raw request body (``video/*``, ``audio/*`` or octet-stream) and watch it.

    The size is capped by ``serve.max_upload_mb`` (413), the suffix and the content are checked
    (415: the file must decode as audio or video); the file is kept under the media directory.
    """
    suffix = FsPath(filename).suffix.lower()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise HTTPException(415, f"unsupported file type {suffix or '(none)'!r}; allowed: "
                                 f"{', '.join(sorted(UPLOAD_SUFFIXES))}")
    if not (ctype.startswith(("video/", "audio/")) or ctype == "application/octet-stream"):
        raise HTTPException(415, f"content type must be video/*, audio/* or application/octet-stream (got {ctype!r})")
    limit = int(state.config.serve.max_upload_mb * 1e6)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"uploads are limited to {state.config.serve.max_upload_mb:g} MB")
    folder = state.media_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{suffix}"
    part = target.with_suffix(suffix + ".part")
    size = 0
    try:
        with part.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"uploads are limited to {state.config.serve.max_upload_mb:g} MB")
                out.write(chunk)
        if size == 0:
            raise HTTPException(400, "the upload is empty")
        try:
            await run_in_threadpool(service.probe, str(part), state.config)
        except SourceError as exc:
            raise HTTPException(415, f"not a readable audio or video file: {exc}") from None
        part.rename(target)
    finally:
        part.unlink(missing_ok=True)
    status = await run_in_threadpool(manager.add, str(target))
    return {**status.to_json(), "bytes": size, "filename": filename}


@router.get("/{source_id}")
def get_source(source_id: str = SourceId, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """One source with its worker status."""
    return _with_status(state, queries.source_row(state.store, source_id))


@router.delete("/{source_id}")
async def remove_source(source_id: str = SourceId,
                        purge: bool = Query(False, description="also delete its observations and events"),
                        state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Stop watching a source; with ``purge`` delete what was stored about it."""
    row = queries.source_row(state.store, source_id)
    stopped = False
    if state.manager is not None:
        uri = state.manager.uri_of(source_id) or row["uri"]
        stopped = await run_in_threadpool(state.manager.remove, uri)
    elif not purge:
        raise HTTPException(503, "this server runs without pipeline workers; pass purge=true to delete the data")
    removed = queries.delete_source_data(state.store, source_id) if purge else 0
    return {"id": source_id, "stopped": stopped, "purged_observations": removed}
