"""Asking across time and sources: wall-clock ranges ("this morning", "yesterday evening", "this
week") and a source by name ("on the driveway camera"), on two live sources built here with
``wall_start`` set; answers across sources name the source of each piece of evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from scenewatch.memory.store import TimelineStore
from scenewatch.reasoning.answer import AskResult, ask
from scenewatch.reasoning.planner import find_sources, plan
from scenewatch.types import Observation, SourceInfo
from scenewatch.vocabulary.time import find_wall_range

# Wednesday 2 December 2026, 15:30 local time
NOW = datetime(2026, 12, 2, 15, 30).timestamp()


def _at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 12, day, hour, minute).timestamp()


def _live(store: TimelineStore, sid: str, uri: str, rows: list[tuple[str, str, float, float]]) -> None:
    """``rows``: (kind, label, wall time, seconds long); media time counts from the first row."""
    store.upsert_source(SourceInfo(id=sid, uri=uri, kind="live"))
    t0 = min(w for _, _, w, _ in rows)
    obs = [Observation(kind=kind, source_id=sid, start=w - t0, end=w - t0 + n, label=label, confidence=0.8,
                       box=(10, 10, 100, 100) if kind == "object" else None, track_id=i if kind == "object" else None,
                       wall_start=w)
           for i, (kind, label, w, n) in enumerate(rows)]
    store.commit_batch(obs, progress=(sid, max(o.end for o in obs)))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimelineStore]:
    st = TimelineStore(Path(tmp_path_factory.mktemp("scope")) / "scope.db")
    _live(st, "cam-driveway", "rtsp://nvr.local/driveway", [
        ("object", "car", _at(1, 18, 10), 20.0),   # yesterday evening
        ("object", "car", _at(2, 9, 5), 30.0),     # this morning
        ("object", "dog", _at(2, 14, 0), 5.0),     # this afternoon
    ])
    _live(st, "cam-front", "rtsp://nvr.local/front-door", [
        ("sound", "Doorbell", _at(1, 19, 0), 2.0),  # yesterday evening
        ("object", "person", _at(2, 8, 30), 12.0),  # this morning
        ("object", "car", _at(2, 10, 0), 8.0),      # this morning
    ])
    st.upsert_source(SourceInfo(id="clip", uri="/videos/garden.mp4", kind="file", duration=30.0))
    st.commit_batch([Observation(kind="object", source_id="clip", start=2.0, end=9.0, label="car", confidence=0.8,
                                 box=(0, 0, 50, 50), track_id=1)], progress=("clip", 30.0))
    yield st
    st.close()


def _ask(store: TimelineStore, q: str, source_id: str | None = None) -> AskResult:
    r = ask(store, q, source_id=source_id, now=NOW)
    for e in r.answer.evidence:  # every cite is a stored row of the source it names
        row = store.get_observation(e.observation_id)
        assert row is not None and row.source_id == e.source_id
    return r


def test_wall_range_phrases() -> None:
    def span(q: str) -> tuple[str, float, float]:
        rest, r = find_wall_range(q, NOW)
        assert r is not None, q
        return rest, r.since, r.until

    assert span("what happened this morning?") == ("what happened ?", _at(2, 5), _at(2, 12))
    assert span("did a car come yesterday evening") == ("did a car come", _at(1, 17), _at(1, 22))
    assert span("anything today?")[1:] == (_at(2, 0), NOW)  # never past now
    assert span("was the dog out last night")[1:] == (_at(1, 21), _at(2, 6))
    assert span("any cars this week?")[1:] == (datetime(2026, 11, 30).timestamp(), NOW)  # since Monday
    assert span("what happened yesterday")[1:] == (_at(1, 0), _at(2, 0))
    for q in ("is this car red", "when did the last car leave", "what happened in the last 5 minutes"):
        assert find_wall_range(q, NOW)[1] is None, q


def test_source_named_in_question() -> None:
    sources = [("cam-driveway", "rtsp://nvr.local/driveway"), ("cam-front", "rtsp://nvr.local/front-door")]
    assert find_sources("was there a car on the driveway camera?", sources) == ("was there a car ?",
                                                                               ("cam-driveway",))
    assert find_sources("anything from the front door cam", sources)[1] == ("cam-front",)
    assert find_sources("was there a car on the moon camera?", sources)[1] == ()
    q = plan("how many cars on the driveway camera yesterday evening?", {"car": "object"}, sources=sources, now=NOW)
    assert (q.intent, q.source_id, q.wall_since, q.wall_until) == ("count", "cam-driveway", _at(1, 17), _at(1, 22))


@pytest.mark.parametrize(("question", "n"), [
    ("how many cars were there this morning?", 2),   # driveway 09:05, front 10:00
    ("how many cars yesterday evening?", 1),
    ("how many cars this week?", 3),
    ("how many cars on the driveway camera this morning?", 1),
    ("how many cars on the driveway camera?", 2),
])
def test_counts_in_wall_range_and_source(store: TimelineStore, question: str, n: int) -> None:
    r = _ask(store, question)
    assert f"{n} car" in r.answer.text, r.answer.text


def test_presence_per_source(store: TimelineStore) -> None:
    assert _ask(store, "was there a person on the driveway camera?").answer.text.startswith("No")
    yes = _ask(store, "was there a person on the front door camera?")
    assert yes.answer.text.startswith("Yes") and {e.source_id for e in yes.answer.evidence} == {"cam-front"}
    assert _ask(store, "was there a dog this morning?").answer.text.startswith("No")
    assert _ask(store, "was there a dog today?").answer.text.startswith("Yes")


def test_answers_across_sources_name_each_source(store: TimelineStore) -> None:
    r = _ask(store, "how many cars were there this morning?")
    assert {e.source_id for e in r.answer.evidence} == {"cam-driveway", "cam-front"}
    assert "From cam-driveway:" in r.answer.text and "From cam-front:" in r.answer.text
    one = _ask(store, "how many cars on the driveway camera this morning?")
    assert "From " not in one.answer.text  # one source: nothing to tell apart


def test_first_across_sources_is_by_wall_clock(store: TimelineStore) -> None:
    # media times restart per source: the front door's car (10:00) has the smaller media time,
    # the driveway's (09:05) came first by the clock
    r = _ask(store, "when was a car first seen this morning?")
    assert [e.source_id for e in r.answer.evidence][:1] == ["cam-driveway"], r.answer.text


def test_wall_range_on_a_file_is_not_applied_and_says_so(store: TimelineStore) -> None:
    r = _ask(store, "was there a car this morning?", source_id="clip")
    assert r.answer.text.startswith("Yes") and "not applied" in r.answer.text
