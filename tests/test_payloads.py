"""Typed rows: one payload per kind, validated on write, parsed on read; relative thumbnails; one merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenewatch.errors import StoreError
from scenewatch.memory.context import ContextSettings, reduce_redundancy
from scenewatch.memory.store import TimelineStore
from scenewatch.payloads import (
    PAYLOAD_TYPES,
    ObjectPayload,
    SoundPayload,
    SpeechPayload,
    TextPayload,
    WordPayload,
    media_ref,
    thumbnail_of,
)
from scenewatch.perception.detect.stage import track_observation
from scenewatch.perception.track.presence import TrackRecord
from scenewatch.spans import Span, merge_spans
from scenewatch.types import OBSERVATION_KINDS, Observation, SourceInfo


@pytest.fixture
def store(tmp_path: Path) -> TimelineStore:
    timeline = TimelineStore(tmp_path / "t.db")
    for sid in ("s", "front", "front-door"):
        timeline.upsert_source(SourceInfo(sid, f"{sid}.mp4", "file"))
    return timeline


def test_every_kind_has_one_payload_type() -> None:
    assert set(PAYLOAD_TYPES) == set(OBSERVATION_KINDS)


def test_a_plain_dict_is_parsed_and_a_typo_fails_where_the_row_is_made() -> None:
    o = Observation("speech", "s", 1.0, 2.0, text="hello", payload={"language": "en", "words": [
        {"start": 1.0, "end": 1.4, "word": "hello", "p": 0.9}]})
    assert isinstance(o.payload, SpeechPayload) and o.payload.language == "en"
    assert o.payload.words == [WordPayload(start=1.0, end=1.4, word="hello", p=0.9)]
    assert Observation("scene", "s", 0.0, 0.0).payload == PAYLOAD_TYPES["scene"]()  # no payload: the empty one
    with pytest.raises(ValueError, match=r"object payload: thumbnail_path: Extra inputs are not permitted"):
        Observation("object", "s", 0.0, 1.0, label="car", payload={"thumbnail_path": "a.jpg"})
    with pytest.raises(ValueError, match=r"a sound row cannot carry a ObjectPayload"):
        Observation("sound", "s", 0.0, 1.0, label="Bark", payload=ObjectPayload())


def test_a_bad_payload_on_write_is_a_clear_error_and_stores_nothing(store: TimelineStore) -> None:
    good = Observation("sound", "s", 0.0, 1.0, label="Bark", payload=SoundPayload(mid="/m/05tny_", score=0.8))
    changed = Observation("object", "s", 2.0, 3.0, label="car", payload=ObjectPayload(boxes=[[2.0, 0, 0, 9, 9, 0.7]]))
    changed.payload.boxes.append(["not", "a", "box"])  # type: ignore[attr-defined, list-item]  # lists stay mutable
    with pytest.raises(StoreError, match=r"object row at 2\.00 s: object payload: boxes\.1\.0: "):
        store.commit_batch([good, changed])
    assert store.count() == 0  # the whole batch was refused
    wrong = Observation("text", "s", 4.0, 5.0, label="text", text="EXIT")
    object.__setattr__(wrong, "payload", SoundPayload(score=0.5))  # bypasses the constructor's check
    with pytest.raises(StoreError, match=r"text payload: mid: Extra inputs are not permitted"):
        store.add_observations([wrong])
    (oid,) = store.add_observations([good])
    stored = store.get_observation(oid)
    assert stored is not None
    with pytest.raises(StoreError):  # an update is validated like an insert
        bad = Observation("sound", "s", 0.0, 1.0, label="Bark", id=oid)
        object.__setattr__(bad, "payload", TextPayload(readings=3))
        store.commit_batch([], updates=[bad])
    again = store.get_observation(oid)
    assert again is not None and again.payload == stored.payload


def test_payloads_come_back_typed_from_every_read_path(store: TimelineStore) -> None:
    obj = ObjectPayload(concept="courier", concepts=["courier", "person"], boxes=[[1.0, 10, 20, 110, 220, 0.9]],
                        thumbnail="front/object-3.jpg", detector="nanodet", samples=1, colour="red",
                        direction="left to right", dwell=4.5)
    text = TextPayload(readings=7, variants=["PRIORITY MAIL", "PRlORITY MAIL"], best_time=9.5)
    ids = store.add_observations([
        Observation("object", "front", 1.0, 5.5, label="person", text="person (courier)", track_id=3, payload=obj),
        Observation("text", "front", 9.0, 20.0, label="text", text="PRIORITY MAIL", payload=text),
    ])
    by_id = store.get_observation(ids[0])
    assert by_id is not None and by_id.payload == obj and isinstance(by_id.payload, ObjectPayload)
    assert by_id.payload.colour == "red" and by_id.payload.boxes[0][4] == 220
    (listed_obj, listed_text) = store.observations(source_id="front")
    assert listed_obj.payload == obj and listed_text.payload == text
    (found,) = store.search_text("priority")
    assert isinstance(found.payload, TextPayload) and found.payload.variants[1] == "PRlORITY MAIL"
    # defaults are left out of the stored JSON, so rows stay small
    (raw,) = store.execute("SELECT payload FROM observations WHERE id=?", (ids[1],))[0]
    assert raw == '{"readings": 7, "variants": ["PRIORITY MAIL", "PRlORITY MAIL"], "best_time": 9.5}'


def test_thumbnails_are_stored_relative_to_the_media_root(tmp_path: Path, store: TimelineStore) -> None:
    root = tmp_path / "t.media"
    source_dir = root / "front-door"  # StageContext.media_dir: <media root>/<source>
    source_dir.mkdir(parents=True)
    crop = source_dir / "object-7.jpg"
    crop.write_bytes(b"\xff\xd8 jpeg")
    rec = TrackRecord(7, "person", ("courier",), 1.0, 4.0, boxes=[(1.0, [0, 0, 10, 10], 0.9)], best_score=0.9,
                      best_box=[0, 0, 10, 10], thumbnail=str(crop))
    row = track_observation(rec, "front-door", "nanodet", media_dir=source_dir)
    assert thumbnail_of(row.payload) == "front-door/object-7.jpg"
    (oid,) = store.add_observations([row])
    stored = store.get_observation(oid)
    assert stored is not None
    ref = thumbnail_of(stored.payload)
    assert ref is not None and not Path(ref).is_absolute() and (root / ref).read_bytes() == b"\xff\xd8 jpeg"
    # a file outside the media root is never rewritten to point elsewhere
    outside = tmp_path / "elsewhere.jpg"
    assert media_ref(outside, source_dir) == str(outside)
    assert media_ref(None, source_dir) is None


def test_one_span_type_and_one_merge_for_every_reader() -> None:
    from scenewatch import spans
    from scenewatch.reasoning import retrieve, summary

    assert retrieve.merge_spans is spans.merge_spans and summary.merge_spans is spans.merge_spans
    assert retrieve.Span is Span and summary.Span is Span
    rows = [Observation("text", "s", t, t + 0.5, "text", text=x, confidence=0.9, box=box, id=i)
            for i, (t, x, box) in enumerate([(0.0, "PRIORITY MAIL", (10, 10, 90, 30)),
                                              (0.5, "PRlORITY MAIL", (12, 11, 92, 31)),
                                              (1.0, "PRIORITY MAIL", (300, 200, 380, 220)),  # the label moved
                                              (1.5, "PRIORITY MAIL", (301, 200, 381, 220))])]
    rows.append(Observation("speech", "s", 0.2, 1.0, text="the courier is here", id=10))
    rows.append(Observation("speech", "s", 1.2, 2.0, text="the courier is here", id=11))
    by_place = merge_spans(rows)  # default policy: text merges where it was read, speech never
    assert [(s.kind, s.ids) for s in by_place] == [("text", (0, 1)), ("speech", (10,)), ("text", (2, 3)),
                                                   ("speech", (11,))]
    assert by_place[0].text == "PRIORITY MAIL"  # the misread is outvoted (tie broken by confidence)
    by_text = reduce_redundancy(rows, ContextSettings(merge_gap=1.0))  # the context: similar text merges
    assert all(isinstance(s, Span) for s in by_text)
    assert [(s.kind, s.ids, s.text) for s in by_text] == [("text", (0, 1, 2, 3), "PRIORITY MAIL"),
                                                           ("speech", (10, 11), "the courier is here")]
    assert by_text[0].rows[0] is rows[0] and by_text[0].best.id == 0
