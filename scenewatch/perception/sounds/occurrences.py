"""One event per sound occurrence: the per-label spans that fired together, folded into one.

See :func:`group_occurrences`. The AudioSet relations come from the tagger's
:class:`~scenewatch.perception.sounds.events.LabelSpace`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from scenewatch.types import SoundEvent

if TYPE_CHECKING:
    from scenewatch.perception.sounds.events import LabelSpace

_SPECIFIC_COVER = 0.5  # related spans are one occurrence when they overlap this share of the shorter one
_SAME_ONSET = 0.5  # seconds (one patch hop): unrelated labels starting together (and overlapping) are one sound
_SHORT_OCCURRENCE = 6.0  # seconds: a label firing inside (or right after) an occurrence this short belongs to it
_CO_LABEL = 0.75  # a co-label of another family is listed only from this score (Chink under a doorbell is not)


def _overlap(a: SoundEvent, b: SoundEvent) -> float:
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def group_occurrences(
    spans: Sequence[SoundEvent], labels: LabelSpace, strong: NDArray[np.float32]
) -> list[SoundEvent]:
    """One event per sound occurrence from the per-label spans that fired together.

    Spans join one occurrence when they overlap over half of the shorter one and their labels are
    related in the ontology (a parent over its child) or start together (Ding with Doorbell). The
    occurrence takes the label best backed by its family (its score plus its strongest relative's:
    Doorbell with Ding-dong beats a lone Ding), walked down to the most specific confident
    descendant; ``labels`` holds
    that label, its ancestors and every co-label of another family confident on its own (score
    0.75 or more). A weaker co-label of another family (Glass at 0.32 or Chink at 0.68 under a
    doorbell) is dropped, so a glass alert does not fire on a doorbell.

    Unrelated labels join when they start together (within one patch hop), when one fires inside
    the other and the longer lasts at most 6 s (the chime in a ring's decay, Buzzer within an alarm
    clock's ringing), or when one starts where the other ends and together they last at most 6 s
    (a crash heard as Gunshot, then Thump); a doorbell rung during long music stays its own event.

    Args:
        spans: per-label events (each with one label) of a stretch of audio no open span overlaps.
        labels: the tagger's label space.
        strong: per-class score from which a label is confident on its own.
    """
    index = {n: i for i, n in enumerate(labels.names)}
    order = sorted(spans, key=lambda e: (-e.score, e.start, e.label))
    groups: list[list[SoundEvent]] = []
    for span in order:
        i = index.get(span.label)
        home = None
        for group in groups:
            for other in group:
                ov = _overlap(span, other)
                j = index.get(other.label)
                related = i is not None and j is not None and (j in labels.descendants(i) or i in labels.descendants(j))
                shorter = min(span.end - span.start, other.end - other.start)
                same_onset = abs(span.start - other.start) <= _SAME_ONSET - 1e-6
                longer = max(span.end - span.start, other.end - other.start)
                inside = longer <= _SHORT_OCCURRENCE and ov >= (1 - 1e-6) * shorter  # one within the other
                # One sound heard as different things patch after patch (a crash: Gunshot, then
                # Thump) is one occurrence when the spans follow each other without a gap.
                chained = (min(abs(span.start - other.end), abs(other.start - span.end)) < 1e-3
                           and max(span.end, other.end) - min(span.start, other.start) <= _SHORT_OCCURRENCE)
                covers = ov > 0.0 and ov >= _SPECIFIC_COVER * max(shorter, 1e-6)
                if chained or (covers and (related or same_onset or inside)):
                    home = group
                    break
            if home is not None:
                break
        if home is None:
            groups.append([span])
        else:
            home.append(span)
    return sorted((_occurrence(g, labels, index, strong) for g in groups), key=lambda e: (e.start, e.label))


def _occurrence(
    group: list[SoundEvent], labels: LabelSpace, index: dict[str, int], strong: NDArray[np.float32]
) -> SoundEvent:
    def confident(e: SoundEvent) -> bool:
        i = index.get(e.label)
        return i is None or e.score >= float(strong[i]) - 1e-6

    def family_weight(e: SoundEvent) -> float:
        i = index.get(e.label)
        if i is None:
            return e.score
        kin = labels.descendants(i) | set(labels.ancestors(i))
        return e.score + max((o.score for o in group if o is not e and index.get(o.label) in kin), default=0.0)

    candidates = [e for e in group if confident(e)] or list(group)
    head = max(candidates, key=lambda e: (family_weight(e), e.score, -(e.end - e.start)))
    while True:  # walk down to the most specific confident descendant heard with it
        i = index.get(head.label)
        below = labels.descendants(i) if i is not None else set()
        deeper = [e for e in group if index.get(e.label) in below and confident(e)]
        if not deeper:
            break
        head = max(deeper, key=lambda e: (e.score, e.end - e.start))
    i = index.get(head.label)
    names = [head.label] + ([labels.names[a] for a in labels.ancestors(i)] if i is not None else [])
    kin = labels.descendants(i) | set(labels.ancestors(i)) if i is not None else set()
    names += [e.label for e in sorted(group, key=lambda e: -e.score)
              if confident(e) and e.label not in names and (index.get(e.label) in kin or e.score >= _CO_LABEL)]
    mids = tuple(labels.mids[index[n]] for n in names if n in index)
    kin_spans = [e for e in group if e is head or confident(e)]
    return SoundEvent(
        start=min(e.start for e in kin_spans),
        end=max(e.end for e in kin_spans),
        label=head.label,
        score=head.score,
        mid=head.mid,
        labels=tuple(names),
        mids=mids if len(mids) == len(names) else (),
    )
