"""Check an exported dataset line by line, and count what it holds.

``validate_file`` reports every problem with its line number and field: the JSON, the record's keys,
the turns (human/gpt alternating, none empty, one ``<video>`` in the first human turn, balanced box
tags), the media (exists, decodes, frame size as recorded), times (inside the clip) and boxes (inside
the frame). Media are probed once per file.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenewatch.errors import SourceError
from scenewatch.training.clips import probe_clip
from scenewatch.training.formats import BOX_CLOSE, BOX_OPEN, FORMATS, VIDEO_TAG, parse_boxes, turns

TIME_TOLERANCE = 0.15  # seconds: a clip's container duration and its last frame time differ by a frame or so
BOX_TOLERANCE = 1.0  # pixels: rounding to integers may touch the frame edge
_TIME_IN_TEXT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?s\b")
_TAG = re.compile(r"</?box_2d>")


@dataclass(frozen=True)
class DatasetIssue:
    """One problem: where (line, field) and what."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class ValidationReport:
    """The outcome of checking a file."""

    path: Path
    records: int = 0
    issues: list[DatasetIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no record has a problem."""
        return not self.issues


def read_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | None, str]]:
    """``(line number, record or None, JSON error)`` for each non-blank line."""
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, None, f"not JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(rec, dict):
                yield n, None, f"a record must be a JSON object, not {type(rec).__name__}"
                continue
            yield n, rec, ""


def _check_tags(text: str) -> str | None:
    depth = 0
    for m in _TAG.finditer(text):
        depth += -1 if m.group().startswith("</") else 1
        if depth not in (0, 1):
            return "box tags are nested or closed before they open"
    if depth:
        return f"unbalanced box tags ({text.count(BOX_OPEN)} {BOX_OPEN}, {text.count(BOX_CLOSE)} {BOX_CLOSE})"
    return None


def _box_problem(box: Any, width: int, height: int) -> str | None:
    if not (isinstance(box, list | tuple) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
        return f"box {box!r} is not [x1, y1, x2, y2]"
    x1, y1, x2, y2 = box
    if not (x1 < x2 and y1 < y2):
        return f"box {list(box)} has x1 >= x2 or y1 >= y2"
    tol = BOX_TOLERANCE
    if x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol:
        return f"box {list(box)} lies outside the {width}x{height} frame"
    return None


class _Checker:
    def __init__(self, path: Path, check_media: bool) -> None:
        self.root = Path(path).parent
        self.check_media = check_media
        self.media: dict[str, tuple[float, int, int] | str] = {}
        self.ids: dict[str, int] = {}

    def probe(self, video: str) -> tuple[float, int, int] | str:
        if video not in self.media:
            p = Path(video) if Path(video).is_absolute() else self.root / video
            if not p.is_file():
                self.media[video] = f"media {video} does not exist"
            else:
                try:
                    self.media[video] = probe_clip(p)
                except SourceError as exc:
                    self.media[video] = str(exc)
        return self.media[video]

    def check(self, n: int, rec: Mapping[str, Any]) -> list[DatasetIssue]:
        issues: list[DatasetIssue] = []

        def bad(where: str, msg: str) -> None:
            issues.append(DatasetIssue(n, where, msg))

        rid = rec.get("id")
        if not isinstance(rid, str) or not rid:
            bad("id", "missing or not a string")
        elif rid in self.ids:
            bad("id", f"{rid!r} repeats line {self.ids[rid]}")
        else:
            self.ids[rid] = n
        fmt = rec.get("format", "sharegpt")
        if fmt not in FORMATS:
            bad("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        width, height = rec.get("width"), rec.get("height")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            bad("width/height", f"need positive integers, got {width!r}x{height!r}")
            width = height = None
        duration: float | None = None
        video = rec.get("video")
        if not isinstance(video, str) or not video:
            bad("video", "missing")
        elif self.check_media:
            probed = self.probe(video)
            if isinstance(probed, str):
                bad("video", probed)
            else:
                duration = probed[0]
                if width is not None and (probed[1], probed[2]) != (width, height):
                    bad("width/height", f"record says {width}x{height}, the video is {probed[1]}x{probed[2]}")
        self._check_turns(rec, str(fmt), width, height, duration, bad)
        self._check_times(rec, duration, bad)
        for i, region in enumerate(rec.get("regions") or []):
            where = f"regions[{i}]"
            if width is not None and height is not None:
                problem = _box_problem(region.get("box"), width, height)
                if problem:
                    bad(f"{where}.box", problem)
            t = region.get("time")
            inside = duration is None or -TIME_TOLERANCE <= t <= duration + TIME_TOLERANCE
            if isinstance(t, int | float) and not inside:
                bad(f"{where}.time", f"{t} s is outside the {duration:.2f} s clip")
        return issues

    def _check_turns(self, rec: Mapping[str, Any], fmt: str, width: int | None, height: int | None,
                     duration: float | None, bad: Any) -> None:
        conv = rec.get("conversations")
        if not isinstance(conv, list) or len(conv) < 2:
            bad("conversations", "needs at least one human and one gpt turn")
            return
        videos = 0
        for i, (who, value) in enumerate(turns(rec)):
            where = f"conversations[{i}]"
            expected = "human" if i % 2 == 0 else "gpt"
            if who != expected:
                bad(f"{where}.from", f"expected {expected!r}, got {who!r}")
            if not value.strip() or not value.replace(VIDEO_TAG, "").strip():
                bad(f"{where}.value", "empty turn")
                continue
            videos += value.count(VIDEO_TAG)
            if VIDEO_TAG in value and (i != 0 or not value.startswith(VIDEO_TAG)):
                bad(f"{where}.value", f"{VIDEO_TAG} must open the first human turn only")
            problem = _check_tags(value)
            if problem:
                bad(f"{where}.value", problem)
            if width is not None and height is not None:
                for box in parse_boxes(value, fmt, width, height):
                    problem = _box_problem([round(v, 3) for v in box], width, height)
                    if problem:
                        bad(f"{where}.value", problem)
            if expected == "gpt" and duration is not None:
                for m in _TIME_IN_TEXT.finditer(value):
                    if float(m.group(1)) > duration + TIME_TOLERANCE:
                        bad(f"{where}.value", f"time {m.group(0)} is past the end of the {duration:.2f} s clip")
        if videos != 1:
            bad("conversations", f"needs exactly one {VIDEO_TAG} tag, found {videos}")
        if len(conv) % 2:
            bad("conversations", "ends with a human turn (no answer)")

    def _check_times(self, rec: Mapping[str, Any], duration: float | None, bad: Any) -> None:
        spans = rec.get("timestamps")
        if not isinstance(spans, list) or not spans:
            bad("timestamps", "missing (a list of [start, end])")
            return
        for i, span in enumerate(spans):
            where = f"timestamps[{i}]"
            if not (isinstance(span, list) and len(span) == 2 and all(isinstance(v, int | float) for v in span)):
                bad(where, f"{span!r} is not [start, end]")
                continue
            s, e = span
            if s < 0 or e < s:
                bad(where, f"[{s}, {e}] is not an ordered span from 0")
            elif duration is not None and e > duration + TIME_TOLERANCE:
                bad(where, f"[{s}, {e}] ends after the {duration:.2f} s clip")


def validate_file(path: Path, check_media: bool = True) -> ValidationReport:
    """Check every record of a JSONL dataset.

    Args:
        path: the file.
        check_media: open and decode each clip (off for a quick syntax check).
    """
    report = ValidationReport(path=Path(path))
    checker = _Checker(Path(path), check_media)
    for n, rec, error in read_records(Path(path)):
        report.records += 1
        if rec is None:
            report.issues.append(DatasetIssue(n, "json", error))
            continue
        report.issues.extend(checker.check(n, rec))
    if report.records == 0:
        report.issues.append(DatasetIssue(0, "file", "no records"))
    return report


@dataclass
class DatasetStats:
    """Counts over a dataset."""

    records: int = 0
    clips: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_label: dict[str, int] = field(default_factory=dict)
    by_format: dict[str, int] = field(default_factory=dict)
    with_boxes: int = 0


def dataset_stats(path: Path) -> DatasetStats:
    """Records per question type, label and format; clips; records that carry a box."""
    types: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    videos: set[str] = set()
    stats = DatasetStats()
    for _, rec, _ in read_records(Path(path)):
        if rec is None:
            continue
        stats.records += 1
        types[str(rec.get("type", "?"))] += 1
        labels[str(rec.get("label", "?"))] += 1
        formats[str(rec.get("format", "sharegpt"))] += 1
        videos.add(str(rec.get("video")))
        stats.with_boxes += bool(rec.get("regions"))
    stats.clips = len(videos)
    stats.by_type, stats.by_label, stats.by_format = dict(types), dict(labels), dict(formats)
    return stats
