"""Where each stage of a source resumes, and how rows of a resumed run join the stored ones.

Progress is kept per ``(source, stage)``: adding a stage later runs only that stage, and a
stage's watermark is what it has fully emitted (audio stages report the start of their open
window), committed in the same transaction as its rows. A file whose size or mtime changed
since it was ingested is resumed from each stage's watermark (grown) or re-ingested (shrunk).

On resume a span that was still open (an object in view, a line of text on screen) when the
last run ended is continued: the first matching row of the new run updates the stored row
instead of starting a second, overlapping one.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field, replace

from scenewatch.memory.store import RowMeta, StageProgress, TimelineStore
from scenewatch.perception.stage import Emit
from scenewatch.types import Observation

CONTINUE_GAP = 3.0
"""Seconds between a stored open span's end and a new row's start that still count as one span."""


def file_fingerprint(uri: str) -> str | None:
    """``size:mtime_ns`` of a local file (``None`` for streams and devices)."""
    try:
        st = os.stat(uri)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass(slots=True)
class ResumePlan:
    """Which stages run on a source and where each starts.

    Attributes:
        run: stage name → media time it resumes at.
        done: stages already complete on this source (not run again).
        changed: the file changed since its last ingest (``"grown"`` or ``"replaced"``), else ``""``.
    """

    run: dict[str, float] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    changed: str = ""


def plan_resume(store: TimelineStore, source_id: str, kind: str, stages: list[str], fingerprint: str | None,
                restart: bool) -> ResumePlan:
    """Decide, per requested stage, whether it runs and from where.

    A database from before per-stage progress has only the source's watermark: every stage is
    taken to have reached it.
    """
    plan = ResumePlan()
    progress = store.stage_progress(source_id)
    if not progress:
        until, status = store.source_progress(source_id)
        if status != "new" or until > 0:
            progress = {s: StageProgress(until, "done" if status == "done" else "stopped") for s in stages}
    old = store.source_fingerprint(source_id)
    if old is not None and fingerprint is not None and old != fingerprint:
        plan.changed = "grown" if _size(fingerprint) >= _size(old) else "replaced"
    for name in stages:
        sp = progress.get(name)
        if restart or kind != "file" or sp is None or plan.changed == "replaced":
            plan.run[name] = 0.0  # a live stream cannot seek back: its media clock restarts
        elif sp.status == "done" and not plan.changed:
            plan.done.append(name)
        else:
            plan.run[name] = sp.processed_until
    return plan


def _size(fingerprint: str) -> int:
    return int(fingerprint.split(":", 1)[0])


class RowJoiner:
    """Turns stage emissions into inserts and updates with idempotent keys, continuing stored spans.

    Args:
        store: the timeline (read once per stage for the rows a resume may continue).
        source_id: the source.
        resume: stage → media time it resumes at (rows ending near it may be continued).
    """

    def __init__(self, store: TimelineStore, source_id: str, resume: dict[str, float]) -> None:
        self._open: dict[tuple[str, str], int] = {}  # (stage, key) -> stored row id
        self._starts: dict[tuple[str, str], float] = {}  # continued spans keep their stored start
        self._ukeys: dict[tuple[str, str], str] = {}
        self._carry: dict[str, list[tuple[Observation, RowMeta]]] = {
            stage: store.stage_tail(source_id, stage, since=t - CONTINUE_GAP)
            for stage, t in resume.items() if t > 0
        }

    def batch(self, emits: list[tuple[str, Emit]]) -> tuple[list[Observation], list[RowMeta], list[Observation],
                                                             list[RowMeta], list[tuple[str, str] | None]]:
        """Split emissions into ``(inserts, insert meta, updates, update meta, insert keys)``."""
        inserts: list[Observation] = []
        imeta: list[RowMeta] = []
        ikeys: list[tuple[str, str] | None] = []
        pending: dict[tuple[str, str], int] = {}
        updates: dict[int, tuple[Observation, RowMeta]] = {}
        for stage, emit in emits:
            obs = emit.observation
            sk = (stage, emit.key) if emit.key is not None else None
            is_open = emit.key is not None and not emit.final
            if sk is not None and sk in self._starts:
                obs = replace(obs, start=min(obs.start, self._starts[sk]))
            if sk is not None and sk in self._open:
                row_id = self._open[sk]
                updates[row_id] = (replace(obs, id=row_id), RowMeta(stage, self._ukeys.get(sk), is_open))
                continue
            if sk is not None and sk in pending:
                i = pending[sk]
                inserts[i], imeta[i] = obs, replace(imeta[i], open=is_open)
                continue
            carried = self._continuation(stage, obs, keyed=sk is not None)
            if carried is not None:
                old, meta = carried
                assert old.id is not None
                merged = replace(obs, start=min(old.start, obs.start), end=max(old.end, obs.end), id=old.id)
                updates[old.id] = (merged, RowMeta(stage, meta.ukey, is_open))
                if sk is not None:
                    self._open[sk], self._starts[sk] = old.id, merged.start
                    if meta.ukey:
                        self._ukeys[sk] = meta.ukey
                continue
            ukey = _ukey(stage, emit.key, obs)
            if sk is not None:
                pending[sk] = len(inserts)
                self._ukeys[sk] = ukey
            inserts.append(obs)
            imeta.append(RowMeta(stage, ukey, is_open))
            ikeys.append(sk)
        ups = list(updates.values())
        return inserts, imeta, [u[0] for u in ups], [u[1] for u in ups], ikeys

    def stored(self, keys: list[tuple[str, str] | None], ids: list[int], finals: set[tuple[str, str]]) -> None:
        """Remember the row ids of inserted keyed spans; forget spans that closed."""
        for key, row_id in zip(keys, ids, strict=True):
            if key is not None:
                self._open[key] = row_id
        for key in finals:
            self._open.pop(key, None)

    def _continuation(self, stage: str, obs: Observation, keyed: bool) -> tuple[Observation, RowMeta] | None:
        """A stored row this new one continues: a span left open that the new span picks up
        within :data:`CONTINUE_GAP`, or (one-off rows) a stored row of the same thing it overlaps,
        which an audio stage re-hears when it resumes from the start of its open window."""
        candidates = self._carry.get(stage)
        if not candidates:
            return None
        for i, (old, meta) in enumerate(candidates):
            if (old.kind, old.label, _said(old)) != (obs.kind, obs.label, _said(obs)):
                continue
            if keyed and meta.open and old.end - CONTINUE_GAP <= obs.start <= old.end + CONTINUE_GAP \
                    and _same_place(old, obs):
                return candidates.pop(i)
            if not keyed and obs.start < old.end - 0.01 and obs.end > old.start + 0.01:
                return candidates.pop(i)
        return None


def _same_place(a: Observation, b: Observation) -> bool:
    """Whether two rows can be one span: most of the smaller box lies in the other (no box: always).

    Motion of a ball in the upper half and a parcel sliding in at the bottom a second later are two
    spans with the same label and boxes that touch; only a span that goes on where it was continues.
    """
    if a.box is None or b.box is None:
        return True
    w = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    h = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    if w <= 0 or h <= 0:
        return False
    smaller = min((a.box[2] - a.box[0]) * (a.box[3] - a.box[1]), (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]))
    return smaller > 0 and w * h / smaller >= 0.5


def _said(obs: Observation) -> str:
    """The text that identifies a row of text or speech (other kinds: their label is enough)."""
    return obs.text if obs.kind in ("text", "speech") else ""


def _ukey(stage: str, key: str | None, obs: Observation) -> str:
    """A row's idempotent key: a span's key and start, or a one-off row's kind, label, times and text."""
    if key is not None:
        return f"{stage}:{key}@{obs.start:.3f}"
    text = zlib.crc32(f"{obs.label}\x00{obs.text}".encode()) & 0xFFFFFFFF
    return f"{stage}:{obs.kind}@{obs.start:.3f}-{obs.end:.3f}:{text:08x}"
