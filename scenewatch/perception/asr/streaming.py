"""Live transcription over consecutive audio chunks with overlapping windows.

Audio is buffered until a window of ``chunk_seconds`` is full; the window is transcribed, and
only what ends before the last ``overlap_seconds`` (the *stable* part) is finalised. The next
window starts exactly at the cut, so the unstable tail is heard again with its right-hand
context. Cuts fall at a segment boundary when one exists (a pause), else between two words, so
no word is emitted twice and none is lost at a window border. Times are on the source timeline.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from scenewatch.perception.asr import Transcriber
from scenewatch.perception.asr.settings import AsrSettings
from scenewatch.types import AUDIO_SAMPLE_RATE, AudioChunk, TranscriptSegment, Word

log = logging.getLogger(__name__)

_GAP_TOLERANCE = 0.5  # seconds of timeline jump treated as a discontinuity
_REPEAT_WINDOW = 0.4  # a first word equal to the last emitted one this close to the cut is a repeat
_TAIL_MARGIN = 1.0  # a segment ending this close to the window's end may be cut off


def _norm(word: str) -> str:
    return re.sub(r"[^\w']+", "", word.lower())


class StreamingTranscriber:
    """Wraps any :class:`~scenewatch.perception.asr.Transcriber` for chunked live audio.

    Memory is bounded: at most one window (plus one pushed chunk) of samples is held.

    Example:
        >>> stream = StreamingTranscriber(backend, AsrSettings())  # doctest: +SKIP
        >>> for chunk in chunks:  # doctest: +SKIP
        ...     for segment in stream.push(chunk):
        ...         print(segment.start, segment.text)
        >>> final = stream.flush()  # doctest: +SKIP
    """

    def __init__(self, transcriber: Transcriber, settings: AsrSettings | None = None) -> None:
        settings = settings or AsrSettings()
        self.transcriber = transcriber
        self.window = float(settings.chunk_seconds)
        self.overlap = min(float(settings.overlap_seconds), self.window / 2)
        self._parts: list[NDArray[np.float32]] = []
        self._count = 0
        self._start: float | None = None
        self._source_id = ""
        self._wall: float | None = None
        self._last_word: Word | None = None
        self._committed_until: float | None = None
        self._split_from: float | None = None  # start of a sentence the last window finalised only in part

    @property
    def buffered_seconds(self) -> float:
        """Seconds of audio waiting to be transcribed."""
        return self._count / AUDIO_SAMPLE_RATE

    def push(self, chunk: AudioChunk) -> list[TranscriptSegment]:
        """Add a chunk; return the segments finalised by it (often none)."""
        if chunk.sample_rate != AUDIO_SAMPLE_RATE:
            raise ValueError(f"StreamingTranscriber needs {AUDIO_SAMPLE_RATE} Hz chunks, got {chunk.sample_rate}")
        out: list[TranscriptSegment] = []
        if self._start is not None and abs(chunk.start - (self._start + self.buffered_seconds)) > _GAP_TOLERANCE:
            out.extend(self.flush())  # a gap in the stream: finish what came before it
        if self._start is None:
            self._start, self._source_id = chunk.start, chunk.source_id
            self._wall = chunk.wall_time
        self._parts.append(chunk.samples)
        self._count += len(chunk.samples)
        while self.buffered_seconds >= self.window:
            out.extend(self._step(final=False))
        return out

    def flush(self) -> list[TranscriptSegment]:
        """The stream ended (or jumped): transcribe and finalise everything buffered."""
        if not self._count:
            self._reset_buffer()
            return []
        out = self._step(final=True)
        self._reset_buffer()
        return out

    def resume_point(self) -> float | None:
        """Where un-emitted speech begins: the window start, past words already committed.

        When the last window finalised a sentence only in part (its stable words), this is that
        sentence's start instead: the runner drops the partial row (rows starting at or after the
        watermark go) and a resumed run hears the whole sentence again from its start, with the
        context an uninterrupted run had, rather than from a cut between two of its words, where
        Whisper tends to skip the first fragment.

        ``None`` when nothing is buffered. The runner commits this as the speech stage's
        watermark, so a killed run re-transcribes the open window instead of losing it.
        """
        if self._start is None:
            return None
        point = max(self._start, self._committed_until or self._start)
        return point if self._split_from is None else min(point, self._split_from)

    def _reset_buffer(self) -> None:
        self._parts, self._count, self._start, self._wall = [], 0, None, None
        self._committed_until = self._split_from = None

    def _after_committed(self, segments: Iterable[TranscriptSegment]) -> list[TranscriptSegment]:
        """Drop words (and segments) of the re-heard left context, already emitted by the last window."""
        until = self._committed_until
        if until is None:
            return list(segments)
        out: list[TranscriptSegment] = []
        for seg in segments:
            if seg.words:
                words = [w for w in seg.words if (w.start + w.end) / 2 >= until]
                if len(words) == len(seg.words):
                    out.append(seg)
                elif words:
                    out.append(_from_words(seg, words))
            elif (seg.start + seg.end) / 2 >= until:
                out.append(seg)
        return out

    def _step(self, final: bool) -> list[TranscriptSegment]:
        assert self._start is not None
        samples = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        take = len(samples) if final else min(len(samples), round(self.window * AUDIO_SAMPLE_RATE))
        window = AudioChunk(np.ascontiguousarray(samples[:take]), self._start, self._source_id, wall_time=self._wall)
        segments = self._drop_repeat(self._after_committed(self.transcriber.transcribe(window)), window.start)
        keep_from = window.end
        self._split_from = None
        if final:
            committed = segments
        else:
            committed, cut, keep_from = self._split(segments, window.start, window.end - self.overlap, window.end)
            self._committed_until = cut
        if committed and committed[-1].words:
            self._last_word = committed[-1].words[-1]
        drop = min(len(samples), max(1, round((keep_from - self._start) * AUDIO_SAMPLE_RATE)))
        rest = samples[drop:]
        self._parts, self._count = ([rest] if len(rest) else []), len(rest)
        if self._wall is not None:
            self._wall += drop / AUDIO_SAMPLE_RATE
        self._start += drop / AUDIO_SAMPLE_RATE
        if not self._count:
            self._start = None
        return committed

    def _split(
        self, segments: list[TranscriptSegment], start: float, limit: float, end: float
    ) -> tuple[list[TranscriptSegment], float, float]:
        """Segments to finalise, the time they are final up to, and where the next window starts.

        When the cut splits a sentence, the next window starts back at the sentence's start
        (at most half a window back): Whisper tends to skip a short fragment at a window's start,
        and the words it hears again there are dropped by time.
        """
        # A segment followed by another one inside the window is complete (Whisper went on past it);
        # the last one may be cut off by the window's end unless it ends before the stable limit.
        complete = len(segments) - 1 if segments and segments[-1].end > limit else len(segments)
        while complete and segments[complete - 1].end > end - _TAIL_MARGIN:
            complete -= 1
        done = segments[:complete]
        later = segments[complete:]
        next_start: float | None = later[0].start if later else None
        split_from: float | None = None
        if later and later[0].start < limit and later[0].words:
            first = later[0]
            stable = [w for w in first.words if w.end <= limit]
            if stable:
                done.append(_from_words(first, stable))
                next_start = first.words[len(stable)].start if len(stable) < len(first.words) else first.end
                split_from = first.start
                self._split_from = min(first.start, stable[0].start)
        if not done:
            cut = limit if next_start is None else min(next_start, limit)
        else:
            last_end = done[-1].end
            cut = last_end if next_start is None else max(last_end, (last_end + max(next_start, last_end)) / 2)
        cut = min(cut, end)
        if cut - start < 0.5 and later:
            # A segment without usable word times spans the stable limit: finalise it whole to keep moving.
            cut = min(max(later[0].end, start + 0.5), end)
            self._split_from = None
            return [*done, later[0]], cut, cut
        keep_from = cut if split_from is None else max(split_from, start + self.window / 2, start + 0.5)
        return done, cut, min(keep_from, cut)

    def _drop_repeat(self, segments: list[TranscriptSegment], window_start: float) -> list[TranscriptSegment]:
        """Drop a first word that repeats the last emitted word right at the cut (a split word heard twice)."""
        last = self._last_word
        if last is None or not segments or not segments[0].words:
            return segments
        first_seg = segments[0]
        first = first_seg.words[0]
        if first.start - window_start > _REPEAT_WINDOW or _norm(first.word) != _norm(last.word):
            return segments
        log.debug("dropping repeated word %r at %.2f", first.word, first.start)
        rest = first_seg.words[1:]
        if not rest:
            return segments[1:]
        return [_from_words(first_seg, rest), *segments[1:]]


def _from_words(segment: TranscriptSegment, words: Iterable[Word]) -> TranscriptSegment:
    words = tuple(words)
    return TranscriptSegment(
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(w.word for w in words),
        words=words,
        language=segment.language,
        confidence=segment.confidence,
        speaker=segment.speaker,
    )


def stream_transcribe(
    transcriber: Transcriber, chunks: Iterable[AudioChunk], settings: AsrSettings | None = None
) -> Iterator[TranscriptSegment]:
    """Lazily transcribe an iterator of chunks; segments come out as they finalise."""
    stream = StreamingTranscriber(transcriber, settings)
    for chunk in chunks:
        yield from stream.push(chunk)
    yield from stream.flush()
