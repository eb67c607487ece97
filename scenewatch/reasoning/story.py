"""A story of what happened: salient events in time order, grouped per subject, each with its evidence.

:func:`narrate` turns merged spans into sentences: one subject's rows become one sentence (a
package arrived → its label read "KEEP REFRIGERATED" → it was taken), low-value rows are folded
(text fragments and the partial readings of a longer line, motion that a track already
explains, scene cuts), and every sentence carries the spans that support it. ``describe``
questions, ``unusual`` questions (events ranked by rarity against the source's own history)
and reports (:mod:`scenewatch.reasoning.summary`) all read the same sentences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scenewatch.payloads import ObjectPayload
from scenewatch.reasoning.query import Query
from scenewatch.reasoning.retrieve import Cite, Finding, Result, Retriever, _inside, fold_fragments, operator
from scenewatch.reasoning.traits import measure
from scenewatch.spans import Span
from scenewatch.vocabulary.time import format_time as t

MAX_SENTENCES = 8
_QUIET = {"scene", "gap", "caption"}


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a story and the spans it rests on."""

    text: str
    start: float
    cites: tuple[Cite, ...]
    key: str = ""


@dataclass(frozen=True, slots=True)
class StoryResult(Result):
    """``describe`` / ``unusual``: sentences in time order (``unusual``: rarest first, with counts)."""

    sentences: tuple[Sentence, ...] = ()
    counts: tuple[int, ...] = ()


def _article(name: str) -> str:
    return ("An " if name[:1] in "aeiou" else "A ") + name


def _origin(span: Span) -> str:
    kinds = {r.payload.origin for r in span.rows if isinstance(r.payload, ObjectPayload)}
    return "arrival" if "arrival" in kinds else "departure" if "departure" in kinds else "detector"


def _object_sentence(span: Span, texts: list[Span], departure: Span | None) -> Sentence:
    colour = measure(span, "colour")
    name = f"{colour} {span.label}" if colour else span.label
    cites = [Cite(span)]
    if _origin(span) == "arrival":
        words = f"{_article(name)} arrived at {t(span.start)}"
    else:
        way = measure(span, "direction")
        moving = way not in (None, "did not move", "still", "unknown")
        words = f"{_article(name)} " + (f"moved {way} ({t(span.start)}–{t(span.end)})" if moving
                                        else f"was seen from {t(span.start)} to {t(span.end)}")
    for x in texts[:2]:
        words += f"; its label read \"{x.text}\" ({t(x.start)})"
        cites.append(Cite(x))
    if departure is not None:
        words += f"; it was taken away at {t(departure.start)}"
        cites.append(Cite(departure))
    elif _origin(span) == "arrival":
        words += f"; it was still there at {t(span.end)}"
    return Sentence(words + ".", span.start, tuple(cites), f"object:{span.label}")


def _departure_for(arrival: Span, departures: list[Span]) -> Span | None:
    for d in departures:
        if d.start >= arrival.start and d.first_box and arrival.first_box and _overlap(d.first_box, arrival.first_box):
            departures.remove(d)
            return d
    return None


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def narrate(spans: Sequence[Span], limit: int = MAX_SENTENCES) -> list[Sentence]:
    """Sentences for ``spans`` in time order, one per subject, low-value rows folded."""
    spans = [s for s in fold_fragments(spans) if s.kind not in _QUIET]
    objects = [s for s in spans if s.kind == "object" and _origin(s) != "departure"]
    departures = sorted((s for s in spans if s.kind == "object" and _origin(s) == "departure"), key=lambda s: s.start)
    texts = [s for s in spans if s.kind == "text"]
    used: set[int] = set()
    out: list[Sentence] = []
    for obj in sorted(objects, key=lambda s: s.start):
        mine = [x for x in texts if id(x) not in used and _inside(x, obj)]
        used.update(id(x) for x in mine)
        mine.sort(key=lambda x: (-len(x.rows), x.start))
        out.append(_object_sentence(obj, mine, _departure_for(obj, departures) if _origin(obj) == "arrival" else None))
    for d in departures:
        out.append(Sentence(f"{_article(d.label)} was taken away at {t(d.start)}.", d.start, (Cite(d),),
                            f"object:{d.label}"))
    for x in texts:
        if id(x) not in used:
            out.append(Sentence(f"The text \"{x.text}\" was visible ({t(x.start)}–{t(x.end)}).", x.start, (Cite(x),),
                                f"text:{x.text.lower()}"))
    for s in spans:
        if s.kind == "sound":
            name = s.label.split(",")[0].strip()  # AudioSet's "Vehicle horn, car horn, honking" → "Vehicle horn"
            out.append(Sentence(f"{_article(name)} sound was heard at {t(s.start)}.", s.start, (Cite(s),),
                                f"sound:{s.label.lower()}"))
        elif s.kind == "speech":
            out.append(Sentence(f"Someone said \"{s.text}\" ({t(s.start)}–{t(s.end)}).", s.start, (Cite(s),),
                                "speech"))
        elif s.kind == "motion" and not any(o.start <= s.end and s.start <= o.end for o in objects):
            out.append(Sentence(f"Motion was detected at {t(s.start)}.", s.start, (Cite(s),), "motion"))
    out = _group_routine(out)
    out.sort(key=lambda x: x.start)
    if len(out) > limit:  # keep the most salient subjects, still told in time order
        keep = sorted(out, key=lambda x: (-_salience(x), x.start))[:limit]
        out = sorted(keep, key=lambda x: x.start)
    return out


def _salience(s: Sentence) -> int:
    """Arrivals, words, sounds and speech first; a thing seen once next; routine and motion last."""
    if s.key.startswith("routine:") or s.key == "motion":
        return 0
    if s.key.startswith("object:") and "arrived" not in s.text:
        return 1
    return 2


def _group_routine(sentences: list[Sentence], at_least: int = 3) -> list[Sentence]:
    """Fold a subject seen again and again (cars passing) into one sentence listing when."""
    counts = Counter(s.key for s in sentences if s.key.startswith(("object:", "sound:", "text:"))
                     and "arrived" not in s.text)
    out: list[Sentence] = []
    for key, n in counts.items():
        if n < at_least:
            continue
        mine = [s for s in sentences if s.key == key and "arrived" not in s.text]
        kind, label = key.split(":", 1)
        times = ", ".join(t(s.cites[0].span.start) for s in mine[:6]) + (", …" if n > 6 else "")
        what = (f"The text \"{mine[0].cites[0].span.text}\" was visible" if kind == "text"
                else f"{_article(label)} was heard" if kind == "sound" else f"{_article(label)} was seen")
        out.append(Sentence(f"{what} {n} times (at {times}).", mine[0].start,
                            (mine[0].cites[0], mine[-1].cites[0]), f"routine:{key}"))
    grouped = {s.key.split(":", 1)[1] for s in out}
    out.extend(s for s in sentences if s.key not in grouped or "arrived" in s.text)
    return out


def _counts(spans: Sequence[Span]) -> Counter[str]:
    """How many spans of each subject (``kind:label``; text by its words) a history holds."""
    return Counter(f"{s.kind}:{(s.label if s.kind != 'text' else s.text).lower()}" for s in spans
                   if s.kind not in _QUIET)


@operator("describe")
def describe(r: Retriever, q: Query) -> Finding:
    """What happened: the story of the query's window (and subject, when one is named)."""
    subject = q.subjects[0] if q.subjects else None
    spans, low, withheld = r.spans(q, subject)
    sentences = narrate(spans)
    cites = tuple(c for s in sentences for c in s.cites)
    return Finding(q, bool(sentences), StoryResult(tuple(sentences)), cites=cites, checked=r.checked(q, subject),
                   ignored=tuple(low), withheld=withheld)


@operator("unusual")
def unusual(r: Retriever, q: Query) -> Finding:
    """Events ranked by rarity against the source's own history (how often each subject occurs there)."""
    spans, low, withheld = r.spans(q, None)
    sentences = narrate(spans, limit=10_000)
    here = _counts(r.spans(Query(q.question, "unusual", source_id=q.source_id), None)[0])
    everywhere = _counts(r.spans(Query(q.question, "unusual"), None)[0]) if q.source_id else here
    def seen(counts: Counter[str], s: Sentence) -> int:
        return counts.get(s.key.removeprefix("routine:"), 1)

    keyed = [(seen(here, s), seen(everywhere, s), s) for s in sentences if s.key not in ("motion", "speech")]
    if not keyed:
        return Finding(q, False, StoryResult(), checked=r.checked(q, None), ignored=tuple(low), withheld=withheld)
    # rarest in this source's history first; ties (a short history) broken by the whole store's
    keyed.sort(key=lambda x: (x[0], x[1], x[2].start))
    rarest = [(n, s) for n, m, s in keyed if (n, m) == keyed[0][:2]][:2]
    result = StoryResult(tuple(s for _, s in rarest), tuple(n for n, _ in rarest))
    return Finding(q, True, result, cites=tuple(c for _, s in rarest for c in s.cites),
                   checked=r.checked(q, None) + "; rarity against this source's history", ignored=tuple(low),
                   withheld=withheld)
