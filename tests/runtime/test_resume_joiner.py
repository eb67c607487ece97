"""Resuming continues a span left open only where it goes on, never a different one with the same label.

A kill just after a ball's motion in the upper half ended (its row still open) must not let the
parcel's motion at the bottom, a second later, be merged into that row (which would lose one span).
"""

from __future__ import annotations

from pathlib import Path

from scenewatch.memory.store import RowMeta, TimelineStore
from scenewatch.perception.stage import Emit
from scenewatch.runtime.resume import RowJoiner
from scenewatch.types import Observation, SourceInfo

UPPER = (0.0, 30.0, 320.0, 90.0)
LOWER = (160.0, 60.0, 320.0, 180.0)


def _store_with_open_motion(tmp_path: Path) -> TimelineStore:
    store = TimelineStore(tmp_path / "t.db")
    store.upsert_source(SourceInfo(id="cam", uri="/x.mp4", kind="file", duration=90.0))
    row = Observation(kind="motion", source_id="cam", start=62.2, end=66.0, label="motion", box=UPPER)
    store.commit_batch([row], meta=[RowMeta("scene", "scene:motion:4@62.200", open=True)])
    return store


def _motion(start: float, end: float, box: tuple[float, float, float, float]) -> Observation:
    return Observation(kind="motion", source_id="cam", start=start, end=end, label="motion", box=box)


def test_motion_elsewhere_after_the_resume_is_a_new_span(tmp_path: Path) -> None:
    with _store_with_open_motion(tmp_path) as store:
        joiner = RowJoiner(store, "cam", {"scene": 66.12})
        inserts, _, updates, _, _ = joiner.batch([("scene", Emit(_motion(68.24, 69.2, LOWER), key="motion:1"))])
        assert [o.start for o in inserts] == [68.24] and updates == []


def test_motion_that_goes_on_in_place_continues_the_stored_row(tmp_path: Path) -> None:
    with _store_with_open_motion(tmp_path) as store:
        joiner = RowJoiner(store, "cam", {"scene": 66.12})
        inserts, _, updates, _, _ = joiner.batch([("scene", Emit(_motion(66.2, 67.0, UPPER), key="motion:1"))])
        assert inserts == [] and [(u.start, u.end) for u in updates] == [(62.2, 67.0)]
