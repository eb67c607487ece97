"""Screen scene text on every way out: answers, summaries, reports and action payloads.

A reading is screened with its neighbours, not alone (:func:`screen_observations`): OCR lines
visible together on the same source are joined in reading order (the next box on the same line,
else the nearest line below that overlaps it) two and three at a time, and consecutive speech
segments likewise, so a sign split over two lines or an instruction spread over two sentences is
caught; the line next to one that reads as instructions by itself is withheld with it (the rest
of that sign). Each text is judged by :func:`~scenewatch.reasoning.guard.screen_scene_text`
(normalised first: NFKC, look-alike letters, zero-width characters, letter spacing).

A withheld row is still evidence that something was read or said: callers report its time and
kind, never its words (:func:`mention_withheld`). Text already written (an event title, a stored
summary, an action payload) goes through :func:`redact_text` / :func:`redact_payload` before it
leaves, which replace what reads as instructions by :data:`WITHHELD`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from scenewatch.reasoning.guard import screen_scene_text
from scenewatch.types import Observation

SCREENED_KINDS = ("text", "speech")
WITHHELD = "[withheld: it reads as instructions to an AI]"
_SPEECH_GAP = 3.0  # seconds between speech segments that still form one utterance
_TEXT_SLACK = 0.5  # seconds two OCR rows may miss each other and still be read together
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|«([^»]+)»|'([^']{12,})'")

TextScreen = Callable[[str], bool]


@lru_cache(maxsize=8192)
def _rules(text: str) -> bool:
    return screen_scene_text(text).flagged


@dataclass(frozen=True, slots=True)
class Screening:
    """Which rows are withheld, and why.

    Attributes:
        withheld: row key (store id, or ``-id(obj)`` for unstored rows) → reason.
        screened: keys of every text/speech row that was looked at.
    """

    withheld: dict[int, str] = field(default_factory=dict)
    screened: frozenset[int] = frozenset()

    def covers(self, row: Observation) -> bool:
        """Whether ``row`` was part of this screening (other kinds need none)."""
        return row.kind not in SCREENED_KINDS or not row.text.strip() or _key(row) in self.screened

    def is_withheld(self, row: Observation) -> bool:
        """Whether ``row``'s words must not be quoted."""
        return _key(row) in self.withheld

    def reason(self, row: Observation) -> str:
        """Why ``row`` is withheld (``""`` when it is not)."""
        return self.withheld.get(_key(row), "")

    def split(self, rows: Iterable[Observation]) -> tuple[list[Observation], list[Observation]]:
        """``(kept, withheld)``, each in input order."""
        kept: list[Observation] = []
        held: list[Observation] = []
        for r in rows:
            (held if self.is_withheld(r) else kept).append(r)
        return kept, held


def _key(row: Observation) -> int:
    return row.id if row.id is not None else -id(row)


def screen_observations(rows: Iterable[Observation], context: Iterable[Observation] = (),
                        text_screen: TextScreen | None = None) -> Screening:
    """Screen the text and speech among ``rows``, each together with its neighbours.

    Args:
        rows: rows about to be output (other kinds pass untouched).
        context: more rows that may be read together with them (e.g. the rest of the window).
        text_screen: ``text -> flagged`` (default: the guard's rules).

    Returns:
        The :class:`Screening` of ``rows`` and ``context``.
    """
    flag = text_screen or _rules
    pool: dict[int, Observation] = {}
    for r in [*rows, *context]:
        if r.kind in SCREENED_KINDS and r.text.strip():
            pool.setdefault(_key(r), r)
    withheld: dict[int, str] = {}
    for r in pool.values():
        if flag(r.text):
            withheld[_key(r)] = "it reads as instructions to an AI"
    alone = set(withheld)
    by_source: dict[tuple[str, str], list[Observation]] = {}
    for r in pool.values():
        by_source.setdefault((r.source_id, r.kind), []).append(r)
    for (_, kind), group in by_source.items():
        group.sort(key=lambda r: (r.start, r.id or 0))
        windows = _speech_windows(group) if kind == "speech" else _text_windows(group)
        for window in windows:
            _screen_window(window, flag, withheld, alone)
    return Screening(withheld, frozenset(pool))


def _screen_window(window: Sequence[list[Observation]], flag: TextScreen, withheld: dict[int, str],
                   alone: set[int]) -> None:
    """Withhold a window's lines when their words joined read as instructions and no part alone does.

    Each line is the list of rows holding the same reading (one OCR line over several keyframes).
    An OCR line next to one that reads as instructions alone is withheld with it: it is the rest
    of that sign ("… SAY THE DOOR IS" / "OPEN"), and quoting it would pass on part of the message.
    """
    if len(window) < 2:
        return
    if any(_key(r) in alone for line in window for r in line):
        if len(window) == 2 and window[0][0].kind == "text":
            for line in window:
                for r in line:
                    withheld.setdefault(_key(r), "it is part of a sign that reads as instructions to an AI")
        return
    texts = [line[0].text.strip() for line in window]
    if len(texts) == 3 and (flag(" ".join(texts[:2])) or flag(" ".join(texts[1:]))):
        return  # a pair already reads as instructions: withhold that pair, not its neighbour
    reverse = len(window) == 2 and window[0][0].kind == "text"  # columns are sometimes read right to left
    if flag(" ".join(texts)) or (reverse and flag(" ".join(reversed(texts)))):
        for line in window:
            for r in line:
                withheld[_key(r)] = f"it reads as instructions to an AI when read with the {_neighbour(r)}"


def _neighbour(row: Observation) -> str:
    return "next sentence" if row.kind == "speech" else "lines next to it"


def _speech_windows(rows: list[Observation]) -> Iterable[list[list[Observation]]]:
    for i in range(len(rows) - 1):
        window = [rows[i]]
        for nxt in rows[i + 1:i + 3]:
            if nxt.start - max(r.end for r in window) > _SPEECH_GAP:
                break
            window.append(nxt)
            yield [[r] for r in window]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _text_windows(rows: list[Observation]) -> Iterable[list[list[Observation]]]:
    """Windows of 2 and 3 lines read in order (right, then below) among the readings visible together."""
    active: list[Observation] = []
    for batch in _same_start(rows):
        start = batch[0].start
        active = [a for a in active if a.end + _TEXT_SLACK >= start] + batch
        lines: dict[str, list[Observation]] = {}
        for a in active:
            lines.setdefault(_norm(a.text), []).append(a)
        if len(lines) < 2:
            continue
        place = {k: v[-1] for k, v in lines.items()}  # the latest row of a reading stands for where it is
        after = {k: _next_line(k, place) for k in place}
        new = {_norm(r.text) for r in batch}
        for k, nxt in after.items():
            if nxt is None:
                continue
            third = after.get(nxt)
            for window in ([k, nxt], [k, nxt, third] if third not in (None, k) else None):
                if window is not None and new.intersection(window):
                    yield [lines[n] for n in window if n is not None]


def _same_start(rows: list[Observation]) -> Iterable[list[Observation]]:
    """Rows (sorted by start) in batches that start together (one keyframe's lines)."""
    batch: list[Observation] = []
    for r in rows:
        if batch and r.start - batch[0].start > 1e-3:
            yield batch
            batch = []
        batch.append(r)
    if batch:
        yield batch


def _next_line(key: str, place: dict[str, Observation]) -> str | None:
    """The reading that follows ``key``: the nearest box to its right on the same line, else the nearest
    line below that overlaps it horizontally; without boxes, the next to appear."""
    me = place[key]
    best: tuple[tuple[float, float], str] | None = None
    for k, o in place.items():
        if k == key:
            continue
        if me.box is None or o.box is None:
            score = (2.0, o.start - me.start) if me.box is None and o.box is None and o.start >= me.start else None
        else:
            score = _follows(me.box, o.box)
        if score is not None and (best is None or score < best[0]):
            best = (score, k)
    return best[1] if best else None


def _follows(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> tuple[float, float] | None:
    """How closely box ``b`` follows box ``a`` in reading order (``None``: it does not)."""
    h = max(1.0, a[3] - a[1])
    if _overlap(a[0], a[2], b[0], b[2]) * _overlap(a[1], a[3], b[1], b[3]) > 0.5 * (a[2] - a[0]) * h:
        return None  # the same place: another reading of the same line, not the next one
    if abs(b[1] - a[1]) < 0.5 * h and -0.25 * h <= b[0] - a[2] < 2 * h:
        return (0.0, b[0] - a[2])
    if b[1] > a[1] + 0.5 * h and b[1] - a[3] < 1.5 * h and _overlap(a[0], a[2], b[0], b[2]) > 0:
        return (1.0, b[1] - a[1])
    return None


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def redact_text(text: str, text_screen: TextScreen | None = None) -> str:
    """``text`` with every quoted part that reads as instructions replaced by :data:`WITHHELD`;
    all of it replaced when what remains still reads as instructions."""
    flag = text_screen or _rules
    if not text:
        return text

    def _sub(m: re.Match[str]) -> str:
        inner = next(g for g in m.groups() if g is not None)
        return WITHHELD if flag(inner) else m.group(0)

    out = _QUOTED.sub(_sub, text)
    return WITHHELD if flag(out.replace(WITHHELD, " ")) else out


def withheld_note(n: int, kind: str = "") -> str:
    """One sentence saying that ``n`` readings were not quoted, and why."""
    one, many = {"speech": ("spoken sentence", "spoken sentences"),
                 "text": ("text read in the scene", "texts read in the scene")}.get(kind, ("reading", "readings"))
    if n == 1:
        return f"1 {one} withheld: it reads as instructions to an AI."
    return f"{n} {many} withheld: they read as instructions to an AI."


def mention_withheld(draft: str, found: bool, intent: str, held: Sequence[Observation]) -> str:
    """An answer that says what was withheld instead of quoting it.

    A withheld reading is still evidence: when nothing else was found, the answer says that
    something was said or read (and when) rather than "no"; otherwise a note is appended.

    Args:
        draft: the code-written answer from the kept evidence.
        found: whether the kept evidence answered the question.
        intent: the query's intent (``yes-no``, ``what-said``…).
        held: the withheld rows that matched the question.
    """
    if not held:
        return draft
    kinds = {r.kind for r in held}
    kind = next(iter(kinds)) if len(kinds) == 1 else ""
    if found:
        return f"{draft} ({withheld_note(len(held), kind)})"
    first = min(held, key=lambda r: r.start)
    when = f"{first.start:.1f}–{first.end:.1f} s"
    what, content = {"speech": ("someone spoke", "what was said is"),
                     "text": ("text was visible", "what it says is")}.get(kind, ("something was read or said",
                                                                              "its content is"))
    more = f" ({len(held)} readings in all)" if len(held) > 1 else ""
    why = "it reads as instructions to an AI"
    if intent == "yes-no":
        return f"Yes: {what} at {when}{more}, but {content} withheld: {why}."
    return f"{what[0].upper()}{what[1:]} at {when}{more}, but {content} withheld: {why}."


def redact_payload(value: Any) -> Any:
    """A JSON-like value with :func:`redact_text` applied to every string in it (action payloads)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_payload(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_payload(v) for v in value]
    return value
