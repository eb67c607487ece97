"""Export the timeline (and its reviews) as a multimodal instruction-tuning dataset.

One record per clip and question (layout in :mod:`scenewatch.training.formats`). Clips come from
events (the event's rows and the rows overlapping it) and from rows no event covers; each clip is cut
from the source to the span of its rows, padded, and every time in its records is clip-relative.

Reviews decide what is true: a row or event marked ``wrong`` is never exported, a corrected one is
exported as corrected, and ``reviewed_only`` keeps only what a person confirmed or corrected (plus
reviewed answers). Only file sources can be exported: live footage is not kept.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenewatch.memory.store import TimelineStore
from scenewatch.training.clips import Clip, cut_clip
from scenewatch.training.formats import VIDEO_TAG, DatasetFormat, llama_factory_info, render_box
from scenewatch.training.questions import QA, QUESTION_KINDS, count_questions, questions_for
from scenewatch.training.reviews import Correction, Review, apply_correction, latest_reviews, list_reviews
from scenewatch.types import Observation

log = logging.getLogger(__name__)

CONFIRMED = ("correct", "corrected")


@dataclass(frozen=True)
class ExportSettings:
    """How to export.

    Attributes:
        fmt: record layout and box convention (``sharegpt``, ``qwen-vl``, ``llava``).
        reviewed_only: only rows, events and answers a person confirmed or corrected.
        since: only rows/events stored (and answers reviewed) at or after this Unix time.
        min_confidence: unreviewed rows under this confidence are left out.
        pad: seconds added before and after each clip's span.
        max_clip: longest clip in seconds (longer spans are cut at this length).
        seed: picks question phrasings.
    """

    fmt: DatasetFormat = "sharegpt"
    reviewed_only: bool = False
    since: float | None = None
    min_confidence: float = 0.6
    pad: float = 1.0
    max_clip: float = 20.0
    seed: int = 0


@dataclass
class ExportSummary:
    """What an export wrote."""

    out: Path
    records: int = 0
    clips: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Unit:
    source_id: str
    start: float
    end: float
    rows: list[Observation]
    extra: list[QA] = field(default_factory=list)


def _created_since(store: TimelineStore, table: str, since: float | None) -> set[int] | None:
    if since is None:
        return None
    return {int(r[0]) for r in store.execute(f"SELECT id FROM {table} WHERE created_at >= ?", (since,))}


class _Selection:
    """Which rows and events count as truth, after reviews."""

    def __init__(self, store: TimelineStore, settings: ExportSettings) -> None:
        self.store, self.settings = store, settings
        reviews = list_reviews(store)
        self.latest: dict[tuple[str, int], Review] = latest_reviews(reviews)
        self.obs_since = _created_since(store, "observations", settings.since)
        self.event_since = _created_since(store, "events", settings.since)
        self.answers = [r for r in self.latest.values() if r.target == "answer" and r.verdict in CONFIRMED
                        and (settings.since is None or r.created_at >= settings.since)]

    def row(self, obs: Observation, in_event: bool = False) -> Observation | None:
        """The row as exported, or ``None`` when it is left out."""
        if obs.id is None or obs.kind not in QUESTION_KINDS:
            return None
        review = self.latest.get(("observation", obs.id))
        if review is not None and review.verdict == "wrong":
            return None
        if self.obs_since is not None and obs.id not in self.obs_since:
            return None
        if review is None:
            if self.settings.reviewed_only and not in_event:
                return None
            if obs.confidence < self.settings.min_confidence:
                return None
        return apply_correction(obs, review)

    def event_review(self, event_id: int) -> Review | None:
        return self.latest.get(("event", event_id))


def _units(store: TimelineStore, sel: _Selection) -> list[_Unit]:
    units: list[_Unit] = []
    covered: set[int] = set()
    rows_by_source: dict[str, list[Observation]] = {}
    for obs in store.observations(kinds=list(QUESTION_KINDS)):
        rows_by_source.setdefault(obs.source_id, []).append(obs)
    for event in store.events():
        assert event.id is not None
        review = sel.event_review(event.id)
        if review is not None and review.verdict == "wrong":
            continue
        if sel.settings.reviewed_only and review is None:
            continue
        if sel.event_since is not None and event.id not in sel.event_since:
            continue
        start, end = event.start, event.end
        if review is not None and review.verdict == "corrected":
            start = review.correction.start if review.correction.start is not None else start
            end = review.correction.end if review.correction.end is not None else end
        rows: list[Observation] = []
        for obs in rows_by_source.get(event.source_id, []):
            own = obs.id in event.observation_ids
            if not own and (obs.id in covered or not (obs.start <= end and obs.end >= start)):
                continue  # a row another event already asks about is not asked twice
            kept = sel.row(obs, in_event=own)
            if kept is None:
                continue
            if own and review is not None and review.correction.label and obs.id == event.observation_ids[0]:
                relabel = Correction(label=review.correction.label)  # the event's label names its first row
                kept = apply_correction(kept, Review("observation", obs.id, "corrected", correction=relabel))
            rows.append(kept)
            covered.add(obs.id or 0)
        if rows:
            units.append(_Unit(event.source_id, min(start, *(r.start for r in rows)),
                               max(end, *(r.end for r in rows)), rows))
    for sid, rows in rows_by_source.items():
        for obs in rows:
            if obs.id in covered:
                continue
            kept = sel.row(obs)
            if kept is not None:
                units.append(_Unit(sid, kept.start, kept.end, [kept]))
    for review in sel.answers:
        evidence = [store.get_observation(int(i)) for i in review.original.get("evidence", [])]
        found = [o for o in evidence if o is not None]
        if not found:
            continue  # an answer without evidence rows has no footage to show
        text = review.correction.text if review.correction.text is not None else str(review.original.get("text", ""))
        question = str(review.question or review.original.get("question", ""))
        start, end = min(o.start for o in found), max(o.end for o in found)
        qa = QA("answer", question, text.replace("{", "{{").replace("}", "}}"), "answer", start, end,
                observation_ids=tuple(o.id for o in found if o.id is not None))
        units.append(_Unit(found[0].source_id, start, end, [], [qa]))
    return units


def _fmt_time(t: float) -> str:
    return f"{max(0.0, t):.1f}"


def _record(qa: QA, clip: Clip, video: str, fmt: DatasetFormat, rid: str, source_id: str) -> dict[str, Any] | None:
    lo, hi = 0.0, clip.duration
    s, e = min(max(qa.start - clip.start, lo), hi), min(max(qa.end - clip.start, lo), hi)
    regions: list[dict[str, Any]] = []
    box_text = ""
    if qa.box is not None and qa.box_time is not None:
        t = qa.box_time - clip.start
        if not lo <= t <= hi:
            return None  # the box was seen outside the cut clip
        x1, y1 = max(0.0, qa.box[0]), max(0.0, qa.box[1])
        x2, y2 = min(float(clip.width), qa.box[2]), min(float(clip.height), qa.box[3])
        if x2 <= x1 or y2 <= y1:
            return None
        regions.append({"time": round(t, 3), "box": [round(v, 1) for v in (x1, y1, x2, y2)], "label": qa.label})
        box_text = render_box((x1, y1, x2, y2), fmt, clip.width, clip.height, qa.label)
    answer = qa.answer.format(start=_fmt_time(s), end=_fmt_time(e), box=box_text).replace("  ", " ").strip()
    answer = answer.replace(" .", ".")
    return {
        "id": rid, "video": video, "videos": [video],
        "conversations": [{"from": "human", "value": f"{VIDEO_TAG}\n{qa.question}"},
                          {"from": "gpt", "value": answer}],
        "timestamps": [[round(s, 3), round(e, 3)]], "width": clip.width, "height": clip.height,
        "clip_start": round(clip.start, 3),
        "format": fmt, "type": qa.qtype, "label": qa.label, "source_id": source_id, "regions": regions,
        "observation_ids": list(qa.observation_ids),
    }


def export_dataset(store: TimelineStore, out: Path, settings: ExportSettings | None = None) -> ExportSummary:
    """Write ``out`` (JSONL) and its clips (``<out stem>_clips/``) from the timeline.

    Returns:
        Counts of records and clips, per question type, and what was skipped and why.
    """
    settings = settings or ExportSettings()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    clip_dir = out.parent / f"{out.stem}_clips"
    summary = ExportSummary(out=out)
    sel = _Selection(store, settings)
    rng = random.Random(settings.seed)
    clips: dict[tuple[str, float, float], Clip] = {}
    types: Counter[str] = Counter()
    with out.open("w", encoding="utf-8") as fh:
        for n, unit in enumerate(_units(store, sel)):
            info = store.get_source(unit.source_id)
            if info is None or info.kind != "file" or not Path(info.uri).is_file():
                summary.skipped.append(f"{unit.source_id}: not a stored file, no footage to cut")
                continue
            start = max(0.0, unit.start - settings.pad)
            end = min(unit.end + settings.pad, start + settings.max_clip)
            if info.duration:
                end = min(end, info.duration)
            key = (unit.source_id, round(start, 2), round(end, 2))
            if key not in clips:
                name = f"{unit.source_id}-{start:08.2f}-{end:08.2f}.mp4".replace("/", "_")
                clips[key] = cut_clip(Path(info.uri), start, end, clip_dir / name)
            clip = clips[key]
            video = str(clip.path.relative_to(out.parent))
            qas = [q for r in unit.rows for q in questions_for(r, rng, clip.start)]
            qas += count_questions(unit.rows, rng) + unit.extra
            for i, qa in enumerate(qas):
                rec = _record(qa, clip, video, settings.fmt, f"{unit.source_id}-{n}-{i}-{qa.qtype}", unit.source_id)
                if rec is None:
                    summary.skipped.append(f"{qa.qtype} about {qa.label!r}: box outside the clip")
                    continue
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                types[qa.qtype] += 1
                summary.records += 1
    summary.clips = len(clips)
    summary.by_type = dict(sorted(types.items()))
    if settings.fmt == "sharegpt":
        (out.parent / "dataset_info.json").write_text(json.dumps(llama_factory_info(out.name), indent=2) + "\n")
    log.info("exported %d records over %d clips to %s", summary.records, summary.clips, out)
    return summary


def export_rows(rows: Sequence[Observation], rng_seed: int = 0) -> list[QA]:
    """Questions for a list of rows without cutting clips (for previews and tests)."""
    rng = random.Random(rng_seed)
    return [q for r in rows for q in questions_for(r, rng)] + count_questions(rows, rng)
