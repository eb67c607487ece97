"""PostgreSQL keyword ranking equals SQLite FTS5's on a corpus built to catch its shortcuts.

The fast path (:mod:`scenewatch.memory.postgres_keywords`) scores each distinct label+text once,
takes document frequencies from a per-term cache while filtering, and for a selective filter reads
the filter's rows instead of the word's index. Each of those could change the ranking; these
tests compare the exact ids, in order, with SQLite's ``bm25()`` on a seeded corpus with prefix
collisions ("car" matches "car", "cars" and "carpet", sometimes in one row), repeated rows,
words in most rows, and after inserts and deletes that must refresh the cached frequencies.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from memory_corpus import fill_store

from scenewatch.memory.backends import open_store
from scenewatch.memory.postgres import PostgresStore
from scenewatch.memory.store import TimelineStore
from scenewatch.types import Observation

_WORDS = ["car", "cars", "carpet", "cart", "door", "doorbell", "doors", "dog", "dogs", "person", "red", "truck",
          "mail", "box", "bell", "walk", "walking", "opens", "open", "package"]
_LABELS = ["person", "car", "dog", "truck", "package", "doorbell"]
_SOURCES = [f"cam{i}" for i in range(30)]
_QUERIES = ["car", "cars", "door", "dog walking", "red car", "person", "pack", "bell", "open door", "carpet mail",
            "ca", "d", "truck truck", "walk dog open", "zebra", "person car dog door"]


def _rows(n: int, seed: int) -> list[Observation]:
    rng = random.Random(seed)
    repeated = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 5))) for _ in range(15)]
    rows = []
    for i in range(n):
        # a third of the rows repeat a few texts (footage repeats itself), the rest are new
        text = rng.choice(repeated) if rng.random() < 0.33 else " ".join(
            rng.choice(_WORDS) for _ in range(rng.randint(0, 9)))
        rows.append(Observation(kind=rng.choice(["object", "sound", "speech", "text"]),  # type: ignore[arg-type]
                                source_id=rng.choice(_SOURCES), start=float(i), end=float(i) + rng.uniform(0.5, 9),
                                label=rng.choice(_LABELS), text=text))
    return rows


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Iterator[tuple[TimelineStore, PostgresStore]]:
    lite, pg = open_store(tmp_path / "timeline.db"), open_store(pg_url)
    assert isinstance(pg, PostgresStore)
    rows = _rows(2400, seed=5)
    fill_store(lite, rows)
    fill_store(pg, rows)
    pg.execute("ANALYZE observations")
    yield lite, pg
    lite.close()
    pg.close()


_FILTERS: list[tuple[str, list[object]]] = [
    ("", []),
    (" AND o.source_id = ?", ["cam3"]),
    (" AND o.kind IN (?,?)", ["object", "sound"]),
    (' AND o.source_id = ? AND o."end" >= ? AND o.start <= ?', ["cam7", 300.0, 1500.0]),
]


def _assert_agree(lite: TimelineStore, pg: PostgresStore, limit: int = 15) -> int:
    found = 0
    for query in _QUERIES:
        for where, params in _FILTERS:
            want = lite.keyword_ids(query, where, params, limit=limit)
            assert pg.keyword_ids(query, where, params, limit=limit) == want, (query, where, params)
            found += bool(want)
    return found


def test_rankings_are_identical_with_and_without_filters(pair: tuple[TimelineStore, PostgresStore]) -> None:
    lite, pg = pair
    assert _assert_agree(lite, pg) >= 0.8 * len(_QUERIES) * len(_FILTERS)
    # The selective filter really took the filter-first path for a common word, the kind filter did not.
    ranker = pg._keywords
    common = sum(ranker.document_frequencies(["car"]))
    assert ranker.filter_first(" AND o.source_id = ?", ["cam3"], common)
    assert not ranker.filter_first(" AND o.kind IN (?,?)", ["object", "sound"], common)
    assert not ranker.filter_first(' AND o."end" >= ? AND o.start <= ?', [10.0, 20.0], common)  # no index serves it
    # Deep lists agree too (ties between repeated rows are broken by id on both).
    for query in ("car", "person door"):
        assert pg.keyword_ids(query, limit=500) == lite.keyword_ids(query, limit=500)


def test_cached_frequencies_follow_inserts_and_deletes(pair: tuple[TimelineStore, PostgresStore]) -> None:
    lite, pg = pair
    _assert_agree(lite, pg)  # fills the per-term cache
    more = _rows(600, seed=6)
    fill_store(lite, more)
    fill_store(pg, more)
    _assert_agree(lite, pg)
    for store in (lite, pg):
        with store.transaction() as c:
            c.execute("DELETE FROM observations WHERE source_id = ? OR text LIKE ?", ("cam5", "%carpet%"))
    assert lite.count() == pg.count() < 3000
    assert _assert_agree(lite, pg) > 0


def test_prefix_frequency_counts_rows_not_words(tmp_path: Path, pg_url: str) -> None:
    """A row holding "car", "cars" and "carpet" counts once in the frequency of "car" (FTS5's nHit)."""
    rows = [Observation(kind="text", source_id="a", start=float(i), end=float(i) + 1, label="text",
                        text=t) for i, t in enumerate(["car cars carpet"] * 3 + ["car"] + ["bus"] * 4)]
    rows.append(Observation(kind="text", source_id="b", start=0.0, end=1.0, label="text", text="car carpet"))
    with open_store(tmp_path / "t.db") as lite, open_store(pg_url) as pg:
        assert isinstance(pg, PostgresStore)
        fill_store(lite, rows)
        fill_store(pg, rows)
        assert pg._keywords.document_frequencies(["car", "bus", "zebra"]) == [5.0, 4.0, 0.0]
        for where, params in [*_FILTERS[:2], (" AND o.source_id = ?", ["b"])]:
            assert pg.keyword_ids("car", where, params) == lite.keyword_ids("car", where, params)
