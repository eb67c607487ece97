"""From per-patch class scores to sound events: one event per sound occurrence, with its AudioSet family.

Shared by every patch-based tagger (YAMNet today). Per label, a score starts an event when it is
strong on its own or backed by a related label in the same patch (noise-prone labels need more);
hysteresis and gap merging make per-label spans; :func:`group_occurrences` folds the spans that
fired together into one :class:`~scenewatch.types.SoundEvent` whose ``labels`` are its most specific
confident label, that label's ancestors and its strong co-labels. One code path serves files and
live audio: :class:`SoundStream` takes consecutive chunks, scores fixed patches on a steady grid and
emits each event once it can no longer grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from scenewatch.errors import ConfigError
from scenewatch.perception.sounds.occurrences import group_occurrences
from scenewatch.perception.sounds.settings import SoundSettings
from scenewatch.types import AUDIO_SAMPLE_RATE, AudioChunk, SoundEvent
from scenewatch.vocabulary import audioset

# Labels that describe the background rather than an event; reported only when asked
# (``include_speech`` or naming them in ``allow``).
BACKGROUND_LABELS = frozenset({
    "Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue", "Babbling",
    "Speech synthesizer", "Hubbub, speech noise, speech babble", "Silence", "Inside, small room",
    "Inside, large room or hall", "Inside, public space", "Outside, urban or manmade",
    "Outside, rural or natural", "Field recording",
    # The noise bed itself is not an event (a quiet camera hears it all day).
    "Noise", "Pink noise", "White noise", "Static", "Environmental noise", "Hum", "Mains hum",
})

# Labels YAMNet gives to stationary noise beds (pink/brown noise, room tone, distant traffic) at
# one or two 8-bit steps above the global cut. They must be heard at this score to start an event;
# tuned on seed 1 of synth.audio backgrounds (benchmarks/audio.py reports the other seeds).
NOISE_PRONE_THRESHOLDS: dict[str, float] = {
    "Rustle": 0.9, "Wind": 0.9, "Wind noise (microphone)": 0.9, "Snake": 0.9, "Waterfall": 0.9,
    "Stream": 0.9, "Rain": 0.85, "Rain on surface": 0.85, "Eruption": 0.9, "Explosion": 0.75,
    "Rumble": 0.9, "Vehicle": 0.75, "Ocean": 0.9, "Waves, surf": 0.9, "Steam": 0.9, "Hiss": 0.85,
    "Air conditioning": 0.9, "Mechanical fan": 0.9, "Water": 0.85, "Sizzle": 0.9, "Frying (food)": 0.9,
    "Rustling leaves": 0.9,
}

_SPECIFIC_COVER = 0.5  # a parent event is dropped when its children cover this share of it
_MIN_TAIL = 0.1  # seconds of unscored audio at the end worth one more zero-padded patch
_MIN_CLIP = 0.04  # a stream shorter than one patch is scored from this long (a 0.09 s beep)
_BLOCK = 160  # samples per energy block (10 ms) for salience


@dataclass(frozen=True)
class LabelSpace:
    """Class names (and AudioSet mids) of a tagger, with the ontology's parent → children links.

    Attributes:
        names: display name per class index.
        mids: AudioSet machine id per class index.
        children: child class indices per parent index.
    """

    names: tuple[str, ...]
    mids: tuple[str, ...]
    children: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def with_audioset_tree(cls, names: Sequence[str], mids: Sequence[str]) -> LabelSpace:
        """Attach the AudioSet parent → children relations (:mod:`scenewatch.vocabulary.audioset`)."""
        index = {n: i for i, n in enumerate(names)}
        children = {
            index[p]: tuple(index[c] for c in kids if c in index)
            for p, kids in audioset.tree().items()
            if p in index
        }
        return cls(tuple(names), tuple(mids), children)

    def ancestors(self, index: int) -> list[int]:
        """Classes above ``index``, nearest first (``Ding-dong`` → Doorbell, Door)."""
        up: dict[int, list[int]] = {}
        for parent, kids in self.children.items():
            for kid in kids:
                up.setdefault(kid, []).append(parent)
        out: list[int] = []
        todo = list(up.get(index, ()))
        while todo:
            p = todo.pop(0)
            if p not in out:
                out.append(p)
                todo.extend(up.get(p, ()))
        return out

    def related(self) -> NDArray[np.bool_]:
        """``C×C`` matrix: true where one class is an ancestor or descendant of the other."""
        n = len(self.names)
        rel = np.zeros((n, n), bool)
        for i in range(n):
            below = list(self.descendants(i))
            rel[i, below] = True
            rel[below, i] = True
        return rel

    def index_of(self, label: str) -> int:
        """Class index of a display name or mid (case-insensitive).

        Raises:
            ConfigError: no such label.
        """
        key = label.strip().lower()
        for i, (n, m) in enumerate(zip(self.names, self.mids, strict=True)):
            if n.lower() == key or m.lower() == key:
                return i
        raise ConfigError(f"unknown sound label {label!r}; use an AudioSet display name such as 'Doorbell' or a mid")

    def descendants(self, index: int) -> set[int]:
        """All classes below ``index`` in the ontology."""
        out: set[int] = set()
        todo = list(self.children.get(index, ()))
        while todo:
            c = todo.pop()
            if c not in out:
                out.add(c)
                todo.extend(self.children.get(c, ()))
        return out


class PatchScorer(Protocol):
    """A tagger that scores fixed-length patches on a steady hop (YAMNet: 0.975 s every 0.48 s)."""

    labels: LabelSpace
    patch_samples: int
    hop_samples: int

    def score_patches(self, samples: NDArray[np.float32]) -> NDArray[np.float32]:
        """Scores ``N×C`` in [0, 1] for the ``N`` patches starting every hop in ``samples``."""
        ...


def label_thresholds(labels: LabelSpace, settings: SoundSettings) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Per-class on-thresholds and which classes may be reported, from the settings.

    Raises:
        ConfigError: an allow-list or threshold entry names no known label.
    """
    n = len(labels.names)
    on = np.full(n, settings.on_threshold, np.float32)
    index = {name: i for i, name in enumerate(labels.names)}
    for label, value in NOISE_PRONE_THRESHOLDS.items():
        if label in index:
            on[index[label]] = max(value, settings.on_threshold)
    for label, value in settings.thresholds.items():
        on[labels.index_of(label)] = value
    if settings.allow:
        report = np.zeros(n, bool)
        for label in settings.allow:
            i = labels.index_of(label)
            report[i] = True
            report[list(labels.descendants(i))] = True
    else:
        report = np.ones(n, bool)
        if not settings.include_speech:
            report[[i for i, name in enumerate(labels.names) if name in BACKGROUND_LABELS]] = False
    return on, report


class EventTracker:
    """Hysteresis per class over patch scores: on at ≥ on-threshold, off under the off-threshold,
    gaps shorter than ``merge_gap`` bridged. Vectorised over all classes."""

    def __init__(self, labels: LabelSpace, settings: SoundSettings) -> None:
        self.labels, self.settings = labels, settings
        self.on, self.report = label_thresholds(labels, settings)
        self.strong = np.maximum(self.on, np.float32(settings.strong_threshold))
        self.off = np.minimum(np.float32(settings.off_threshold), self.on)
        self._related = labels.related().astype(np.float32)
        n = len(labels.names)
        self.open = np.zeros(n, bool)
        self.start = np.zeros(n, np.float64)
        self.last = np.zeros(n, np.float64)  # end of the last patch at or above the off-threshold
        self.peak = np.zeros(n, np.float32)
        self.active = np.zeros(n, bool)  # open and currently above the off-threshold

    def push(self, start: float, end: float, scores: NDArray[np.float32], salient: bool = False) -> list[SoundEvent]:
        """Feed one patch's scores for the time span it stands for; return events that closed.

        ``salient``: the patch holds a sound standing out of quiet (:func:`salient_patches`).
        """
        closed = self._close(self.open & (start - self.last >= self.settings.merge_gap))
        keep = scores >= self.off
        weak = scores >= self.on
        # A label one 8-bit step above the cut is noise unless a related label hears it too
        # (Ding-dong with Doorbell); a strong score stands on its own.
        strong = self.report & (scores >= self.strong)
        if strong.any():
            supported = (self._related @ weak.astype(np.float32)) > 0
            rises = self.report & (strong | (weak & supported))
        else:
            # Only weak labels: the patch's top family may start an event when it names a sound
            # standing out of quiet alone (no unrelated label as high).
            rises = self._sole_weak(scores, weak, salient)
        new = rises & ~self.open
        self.start[new] = start
        self.peak[new] = 0.0
        self.open |= new
        cont = self.open & ((self.active & keep) | rises)
        self.last[cont] = end
        self.peak[cont] = np.maximum(self.peak[cont], scores[cont])
        self.active = cont
        return closed

    def _sole_weak(self, scores: NDArray[np.float32], weak: NDArray[np.bool_], salient: bool) -> NDArray[np.bool_]:
        """The labels that may start an event in a patch where no label is strong.

        Only a sound standing out of quiet (a short horn, a knock) may start one this way, and only
        when its top family names it alone: several unrelated names at the top (a bark heard as
        Buzzer, Cat, Fire alarm… at 0.32) start none. In steady sound (speech, a noise bed) a weak
        pair such as Animal with Domestic animals at 0.32 is not enough.
        """
        none = np.zeros_like(weak)
        cand = self.report & weak
        if not cand.any():
            return none
        top = float(scores[cand].max())
        heads = np.flatnonzero((scores >= top - 1e-4) & cand)
        rel = self._related[np.ix_(heads, heads)] > 0
        np.fill_diagonal(rel, True)
        if not rel.all() or not salient:
            return none
        none[heads] = True
        return none

    def open_spans(self) -> list[SoundEvent]:
        """Events still open, as they stand now."""
        return self._events(self.open)

    def close(self) -> list[SoundEvent]:
        """End of stream: close every open event."""
        return self._close(self.open)

    def _close(self, mask: NDArray[np.bool_]) -> list[SoundEvent]:
        events = self._events(mask)
        self.open &= ~mask
        self.active &= ~mask
        return [e for e in events if e.end - e.start >= self.settings.min_duration]

    def _events(self, mask: NDArray[np.bool_]) -> list[SoundEvent]:
        return [
            SoundEvent(float(self.start[i]), float(self.last[i]), self.labels.names[i],
                       round(float(self.peak[i]), 3), self.labels.mids[i])
            for i in np.flatnonzero(mask)
        ]


def prefer_specific(
    events: Sequence[SoundEvent], context: Sequence[SoundEvent], labels: LabelSpace
) -> list[SoundEvent]:
    """Drop parent-label events mostly covered by events of their descendants (``Animal`` under ``Dog``).

    The stream now folds related labels into one occurrence (:func:`group_occurrences`); this
    stays for callers that hold per-label events.
    """
    index = {n: i for i, n in enumerate(labels.names)}
    out = []
    for ev in events:
        below = labels.descendants(index[ev.label]) if ev.label in index else set()
        covered = sum(
            max(0.0, min(ev.end, o.end) - max(ev.start, o.start))
            for o in context
            if o.label in index and index[o.label] in below
        )
        if not below or covered < _SPECIFIC_COVER * max(ev.end - ev.start, 1e-6):
            out.append(ev)
    return out


def _touch(a: SoundEvent, b: SoundEvent) -> bool:
    """The spans overlap or one starts where the other ends."""
    return min(a.end, b.end) - max(a.start, b.start) > -1e-3


def salient_patches(
    samples: NDArray[np.float32], n: int, patch: int, hop: int, contrast_db: float = 35.0
) -> NDArray[np.bool_]:
    """Which of the ``n`` patches (``patch`` samples every ``hop``) hold a sound standing out of quiet.

    Per patch, the loudest 10 ms block must be ``contrast_db`` above the patch's own quietest tenth
    of blocks (a horn or a click in a quiet room: 40-90 dB; stationary pink, brown, room-tone and
    traffic beds: under 30 dB). It looks at the patch alone, so a resumed stream decides the same.
    """
    blocks = len(samples) // _BLOCK
    x = samples[: blocks * _BLOCK].astype(np.float64).reshape(blocks, _BLOCK)
    level = 10.0 * np.log10(np.mean(x * x, axis=1) + 1e-10)
    out = np.zeros(n, bool)
    for k in range(n):
        seg = level[k * hop // _BLOCK: (k * hop + patch) // _BLOCK]
        if len(seg):
            out[k] = seg.max() - np.percentile(seg, 10) >= contrast_db
    return out


class SoundStream:
    """Tags consecutive audio chunks on one steady patch grid; events come out once final.

    Memory is bounded: less than one patch of samples, and the closed spans that may still join an
    open occurrence (at most 30 s of them), are held.

    Resuming is exact: :meth:`resume_point` is a patch of the grid before which everything is
    emitted and at which the tracker holds nothing, so a stream started there (with
    ``resumable=True``) scores the same patches from the same empty state and emits the very
    events an uninterrupted stream emits.

    Args:
        scorer: the patch tagger.
        settings: thresholds and gaps.
        resumable: a first chunk that starts after the media's first patch continues audio heard
            by an earlier run (the pipeline resumes there): its first patch stands for its central
            hop only, as it did in that run. Otherwise (a clip tagged on its own) the first patch
            also stands for the lead-in before it.
    """

    def __init__(self, scorer: PatchScorer, settings: SoundSettings | None = None, resumable: bool = False) -> None:
        self.scorer = scorer
        self.settings = settings or SoundSettings()
        self.resumable = resumable
        self.tracker = EventTracker(scorer.labels, self.settings)
        self._buf = np.zeros(0, np.float32)
        self._buf_start: float | None = None
        # Stream start as a whole sample of the media clock; times are (origin + sample count) / rate,
        # so they never drift and a resumed stream computes bit-identical times.
        self._origin = 0
        self._consumed = 0  # samples before the buffer's first one
        self._started = False  # a first chunk was seen (later restarts follow a gap)
        self._pending: list[SoundEvent] = []
        self._first_patch = True
        self._covered = 0.0  # time up to which patches have been scored

    def push(self, chunk: AudioChunk) -> list[SoundEvent]:
        """Add a chunk; return events that became final."""
        if chunk.sample_rate != AUDIO_SAMPLE_RATE:
            raise ValueError(f"SoundStream needs {AUDIO_SAMPLE_RATE} Hz chunks, got {chunk.sample_rate}")
        out: list[SoundEvent] = []
        buf_end = None if self._buf_start is None else self._buf_start + len(self._buf) / AUDIO_SAMPLE_RATE
        if buf_end is not None and abs(chunk.start - buf_end) > 0.5:
            out.extend(self.flush())  # a gap in the stream: close everything before it
        samples = np.clip(np.nan_to_num(chunk.samples), -1.0, 1.0).astype(np.float32, copy=False)
        if self._buf_start is None:
            self._origin, self._consumed = round(chunk.start * AUDIO_SAMPLE_RATE), 0
            self._buf_start, self._buf = self._origin / AUDIO_SAMPLE_RATE, samples
            continued = self.resumable and not self._started and self._origin >= self.scorer.hop_samples
            self._first_patch = not continued
            self._started = True
        else:
            self._buf = np.concatenate([self._buf, samples])
        out.extend(self._score(final=False))
        return out

    def flush(self) -> list[SoundEvent]:
        """End of stream: score the tail (zero-padded) and close all events."""
        out = self._score(final=True)
        out.extend(self.tracker.close())
        ready = group_occurrences(self._pending + out, self.scorer.labels, self.tracker.strong)
        self._pending = []
        self._buf, self._buf_start = np.zeros(0, np.float32), None
        return sorted(ready, key=lambda e: (e.start, e.label))

    def resume_point(self) -> float | None:
        """Where un-emitted audio begins: the earliest open or held event, else the unscored tail.

        The runner commits this as the sounds stage's watermark, so a killed run re-hears an
        event that was still open instead of losing it.
        """
        if self._buf_start is None:
            return None
        held = [e.start for e in self._pending] + [e.start for e in self.tracker.open_spans()]
        earliest = min([self._buf_start, *held])
        # The patch an event starts in (each patch stands for its central hop, so the onset lies a
        # little after the patch's first sample): a resumed stream scores the very patches an
        # uninterrupted one does, starting from the same empty tracker, since nothing was open
        # before the earliest held event.
        hops = int(round(earliest * AUDIO_SAMPLE_RATE - self._origin) // self.scorer.hop_samples)
        return (self._origin + max(0, hops) * self.scorer.hop_samples) / AUDIO_SAMPLE_RATE

    def _score(self, final: bool) -> list[SoundEvent]:
        assert self._buf_start is not None or not len(self._buf)
        p, h = self.scorer.patch_samples, self.scorer.hop_samples
        buf = self._buf
        if final and len(buf) < p:
            unscored = len(buf) if self._first_patch else len(buf) - (p - h)
            if unscored >= (_MIN_CLIP if self._first_patch else _MIN_TAIL) * AUDIO_SAMPLE_RATE:
                buf = np.concatenate([buf, np.zeros(p - len(buf), np.float32)])
        n = 0 if len(buf) < p else 1 + (len(buf) - p) // h
        if not n or self._buf_start is None:
            return []
        scores = self.scorer.score_patches(buf[: (n - 1) * h + p])
        # Zero padding is silence only around a clip shorter than one patch, not after heard audio.
        heard = buf if self._first_patch else self._buf
        salient = salient_patches(heard[: (n - 1) * h + p], n, p, h, self.settings.salience_db)
        closed: list[SoundEvent] = []
        for k in range(n):
            first = self._origin + self._consumed + k * h  # the patch's first sample on the media clock
            # Each patch stands for its central hop; the first one also for the lead-in.
            lead_in = self._first_patch and k == 0
            lo = (first if lead_in else first + (p - h) / 2) / AUDIO_SAMPLE_RATE
            hi = (first + (p + h) / 2) / AUDIO_SAMPLE_RATE
            closed.extend(self.tracker.push(lo, hi, scores[k], bool(salient[k])))
            self._covered = hi
        self._first_patch = False
        consumed = n * h
        self._buf = self._buf[min(consumed, len(self._buf)):]
        self._consumed += consumed
        self._buf_start = (self._origin + self._consumed) / AUDIO_SAMPLE_RATE
        return self._release(closed)

    def _release(self, closed: list[SoundEvent]) -> list[SoundEvent]:
        """Emit closed events no open (possibly more specific) event can still overlap."""
        self._pending.extend(closed)
        open_now = self.tracker.open_spans()
        earliest_open = min((e.start for e in open_now), default=np.inf)
        horizon = self._covered - 30.0  # never hold an event longer than this behind a long open one
        # Held: what an open event may still join (it overlaps or touches it), and, transitively,
        # what touches or overlaps a held one (a chain of spans is one occurrence).
        held = [e for e in self._pending if not (e.end < earliest_open or e.end < horizon)]
        ready = [e for e in self._pending if e not in held]
        grew = True
        while grew:
            grew = False
            for e in [r for r in ready if r.end >= horizon]:
                if any(_touch(e, o) for o in held + open_now):
                    ready.remove(e)
                    held.append(e)
                    grew = True
        if not ready:
            return []
        self._pending = [e for e in self._pending if e not in ready]
        return group_occurrences(ready, self.scorer.labels, self.tracker.strong)
