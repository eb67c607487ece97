"""Time phrases: the one parser and the one formatter of media times.

Parsing covers what people type in rules, questions and options::

    "90 s", "90", "1.5 min", "2 minutes", "1 h 5 min", "1:30", "1:02:03"   -> seconds
    "the first 2 minutes", "in the last 30 seconds", "after 1:05",
    "before 10 s", "between 5 and 10 s", "from 0:30 to 1:00", "at 12 s"   -> a :class:`Window`
    "today", "yesterday evening", "this morning", "last night", "this week" -> a :class:`WallRange`

Formatting writes every media time one way (``12.0 s``; spans ``12.0–14.5 s``), so answers,
summaries and the CLI read alike and the numbers in an answer are the numbers in the facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from scenewatch.errors import ConfigError

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_UNIT_WORD = r"(?:h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)"
_NUMBER = r"\d+(?:\.\d+)?"
_CLOCK = r"\d+(?::[0-5]?\d){1,2}(?:\.\d+)?"
_PART = rf"{_NUMBER}\s*{_UNIT_WORD}\b"

#: A duration inside a larger pattern: a clock (``1:30``), unit parts (``1 h 5 min``) or a bare number.
DURATION = rf"(?:{_CLOCK}|{_PART}(?:\s*(?:and\s+)?{_PART})*|{_NUMBER})"
_DURATION_FULL = re.compile(rf"\s*({DURATION})\s*", re.I)
_PARTS = re.compile(rf"({_NUMBER})\s*({_UNIT_WORD})\b", re.I)


def parse_duration(text: str, default_unit: str = "s") -> float:
    """Seconds in ``text``: ``"90 s"``, ``"1:30"``, ``"1 h 5 min"``, ``"2 minutes"``, ``"42"``.

    Args:
        text: the duration as written.
        default_unit: unit of a bare number (``s``, ``m`` or ``h``).

    Raises:
        ConfigError: ``text`` is not a duration.
    """
    m = _DURATION_FULL.fullmatch(text)
    if not m:
        raise ConfigError(f"not a duration: {text!r} (write e.g. '90 s', '1:30', '1 h 5 min')")
    return duration_seconds(m[1], default_unit)


def duration_seconds(text: str, default_unit: str = "s") -> float:
    """Seconds of a string already matched by :data:`DURATION` (no validation)."""
    text = text.strip().lower()
    if ":" in text:
        total = 0.0
        for part in text.split(":"):
            total = total * 60 + float(part)
        return total
    parts = _PARTS.findall(text)
    if parts:
        return sum(float(n) * _UNITS[u[0]] for n, u in parts)
    return float(text) * _UNITS[default_unit[0].lower()]


@dataclass(frozen=True, slots=True)
class Window:
    """A time window of media seconds; ``None`` ends are open.

    Attributes:
        since: start, or ``None``.
        until: end, or ``None``.
        last: "the last N seconds": resolved against the end of the timeline by the reader.
    """

    since: float | None = None
    until: float | None = None
    last: float | None = None


_D = rf"({DURATION})"
_WINDOWS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b(?:(?:in|during|within|over|for)\s+)?the first\s+{_D}", re.I), "first"),
    (re.compile(rf"\b(?:(?:in|during|within|over|for)\s+)?the last\s+{_D}", re.I), "last"),
    (re.compile(r"\b(?:(?:in|during|within|over|for)\s+)?the (?:last|past)\s+(hour|minute)\b", re.I), "last-one"),
    (re.compile(rf"\bbetween\s+{_D}\s+and\s+{_D}", re.I), "between"),
    (re.compile(rf"\bfrom\s+{_D}\s+(?:to|until|till)\s+{_D}", re.I), "between"),
    (re.compile(rf"\bafter\s+{_D}", re.I), "after"),
    (re.compile(rf"\bbefore\s+{_D}", re.I), "before"),
    (re.compile(rf"\b(?:at|around)\s+{_D}", re.I), "at"),
)
_HAS_UNIT = re.compile(rf"\d\s*{_UNIT_WORD}\b|\d:\d", re.I)
_AT_SLACK = 2.0  # "at 12 s" looks 2 s either side


def _with_unit(a: str, b: str) -> tuple[float, float]:
    """``between 5 and 10 s``: the unit of the second bound applies to a bare first one."""
    unit = _PARTS.findall(b.lower())
    first_unit = unit[-1][1] if unit and ":" not in a and not _PARTS.findall(a.lower()) else "s"
    return duration_seconds(a, first_unit), duration_seconds(b)


def _is_time(m: re.Match[str], how: str, text: str) -> bool:
    if how == "last-one" or _HAS_UNIT.search(m[0]):
        return True
    # "the first 2 people", "at 3", "after 2 cars": a bare number there is no time
    return how not in ("first", "last", "at") and not re.match(r"\s*[a-z]", text[m.end():], re.I)


def _window_of(m: re.Match[str], how: str) -> Window:
    if how == "first":
        return Window(until=duration_seconds(m[1]))
    if how == "last":
        return Window(last=duration_seconds(m[1]))
    if how == "last-one":
        return Window(last=3600.0 if m[1].lower() == "hour" else 60.0)
    if how == "between":
        since, until = _with_unit(m[1], m[2])
        return Window(since=since, until=until)
    if how == "after":
        return Window(since=duration_seconds(m[1]))
    if how == "before":
        return Window(until=duration_seconds(m[1]))
    at = duration_seconds(m[1])
    return Window(since=max(0.0, at - _AT_SLACK), until=at + _AT_SLACK)


def find_window(text: str) -> tuple[str, Window | None]:
    """Find and strip one time window in ``text``: ``(text without it, window)``.

    ``"when did the dog bark in the first 2 minutes"`` → ``("when did the dog bark", Window(until=120))``.
    A bare number counts as seconds after ``after``/``before``/``between`` unless a word follows it
    ("after 2 cars"); after ``the first``/``the last``/``at`` a unit is needed ("the first 2 people").
    """
    for pattern, how in _WINDOWS:
        for m in pattern.finditer(text):
            if not _is_time(m, how, text):
                continue
            rest = " ".join((text[:m.start()] + " " + text[m.end():]).split())
            return rest, _window_of(m, how)
    return text, None


def parse_window(text: str) -> Window:
    """The window a phrase names: ``"the first 2 minutes"`` → ``Window(until=120)``.

    Raises:
        ConfigError: ``text`` names no window.
    """
    _, window = find_window(text)
    if window is None:
        raise ConfigError(f"not a time window: {text!r} (write e.g. 'the first 2 minutes', 'after 1:05')")
    return window


@dataclass(frozen=True, slots=True)
class WallRange:
    """A range of wall-clock time (Unix seconds, local calendar) a phrase names.

    Attributes:
        since: start (inclusive).
        until: end (exclusive).
        phrase: the words that named it ("this morning"), for answers that say what was checked.
    """

    since: float
    until: float
    phrase: str


# parts of a day, local hours [from, to); "night" runs past midnight
_PARTS_OF_DAY = {"morning": (5, 12), "afternoon": (12, 17), "evening": (17, 22), "night": (21, 30)}
_WALL = re.compile(
    r"\b(?:(?:in|during|on|over|from|since|for)\s+)?(?:(this|today's|yesterday's|yesterday|last|tonight)"
    r"(?:\s+(morning|afternoon|evening|night|week))?|today|(?:earlier )?today)\b", re.I)


def _midnight(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def find_wall_range(text: str, now: float | None = None) -> tuple[str, WallRange | None]:
    """Find and strip one wall-clock range in ``text``: ``(text without it, range)``.

    ``today``, ``yesterday``, ``tonight``, ``last night``, ``this``/``yesterday``
    ``morning``/``afternoon``/``evening``/``night``, ``this week`` (since Monday 00:00),
    ``last week``. Days follow the local calendar; ``now`` (Unix seconds) defaults to the clock.
    A range never reaches past ``now``. "last 5 minutes" is a media window (:func:`find_window`).
    """
    at = datetime.fromtimestamp(now if now is not None else datetime.now().timestamp()).astimezone()
    today = _midnight(at)
    for m in _WALL.finditer(text):
        which = (m[1] or "today").lower().removesuffix("'s")
        part = (m[2] or "").lower()
        if which == "tonight":
            which, part = "this", "night"
        if which == "last" and part not in ("night", "week"):
            continue  # "the last car": no time
        if which == "this" and not part:
            continue  # "this car"
        day = today - timedelta(days=1) if which == "yesterday" or (which == "last" and part == "night") else today
        if part == "week":
            monday = today - timedelta(days=today.weekday())
            start, end = (monday - timedelta(days=7), monday) if which == "last" else (monday, monday + timedelta(7))
        elif part:
            a, b = _PARTS_OF_DAY[part]
            start, end = day + timedelta(hours=a), day + timedelta(hours=b)
        else:
            start, end = day, day + timedelta(days=1)
        rest = " ".join((text[:m.start()] + " " + text[m.end():]).split())
        until = min(end.timestamp(), at.timestamp())
        return rest, WallRange(start.timestamp(), max(until, start.timestamp()), " ".join(m[0].split()).lower())
    return text, None


def format_time(seconds: float) -> str:
    """A media time as every answer, summary and listing writes it: ``12.0 s``."""
    return f"{seconds:.1f} s"


def format_span(start: float, end: float) -> str:
    """A span of media time: ``12.0–14.5 s``."""
    return f"{start:.1f}–{end:.1f} s"


def format_duration(seconds: float) -> str:
    """A length of time for people: ``42.0 s``, ``2 min 5 s``, ``1 h 2 min``."""
    if seconds < 60:
        return format_time(seconds)
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec} s" if sec else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
