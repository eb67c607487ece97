"""Keyword search on PostgreSQL, ranked exactly as SQLite FTS5 ranks it (BM25), at archive scale.

FTS5's ``bm25()`` scores a row from, per query term (a prefix): the term's frequency in the row,
the row's length in tokens, the number of rows in the whole table that match the term (its
document frequency) and the table's row and token totals. Both backends use the same arithmetic,
so ``tests/memory/test_search.py`` can demand identical top-10s. What makes it fast here:

- **Candidates first.** The GIN index on ``fts`` and the caller's filters pick the matching rows;
  only those are scored. Rows with the same label and text score the same, so each distinct
  document is scored once (footage repeats its labels); only the best ``limit`` documents' rows
  are listed. A common word under a selective, indexed filter (one source, an hour) is checked on
  the filter's rows instead of walking its long posting list (:meth:`KeywordRanker.filter_first`).
- **Set-based term frequencies.** One pass unnests the candidates' lexemes, keeps those that start
  with a query term and sums their positions; nothing is done per row in Python.
- **Document frequencies without a table scan.** Unfiltered, the candidates *are* every matching
  row, so the frequencies come out of the same pass. Filtered, each term's whole-table count is a
  GIN bitmap count (about 50 ms for a word in 1 row in 6 of 1M, 1 ms for a rare one), cached per
  term while the table's row and token totals (``fts_stats``, kept by triggers) stay the same:
  any insert or delete changes them. An update that keeps a row's token count is the one write
  that leaves a cached count stale, until the next insert or delete.
- **Custom plans.** Statements run unprepared, so the planner sees the real query words (a
  generic plan cannot tell a rare word from one in every row).

Cost: about 5 µs per distinct matching document, plus the filter. At 1M rows a query of rare
words stays in tens of milliseconds; a word in a sixth of all rows, all different texts,
unfiltered, still scores every one of them (about a second): BM25 has no shortcut to its top rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from scenewatch.memory.store import fts_words

# (sql, params) -> rows; the store's reader (SQLite-dialect text, ``?`` placeholders, unprepared).
Reader = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

_FILTER_FIRST = 8  # check the filter's rows when it keeps 8× fewer than the words match
_CACHE_TERMS = 4096  # cached document frequencies, cleared whenever the table changes anyway


def query_terms(text: str) -> list[str]:
    """The prefix terms FTS5 would search for; the tsvector splits at ``_`` as FTS5 does."""
    return [part for word in fts_words(text) for part in word.split("_") if part]


def prefix_tsquery(terms: Sequence[str]) -> str:
    """``'t1':* | 't2':* …``: the tsquery text (``to_tsquery('simple', …)``) matching any term as a prefix."""
    return " | ".join("'" + t.replace("'", "''").replace("\\", "\\\\") + "':*" for t in terms)


def ranking_sql(where: str, given_df: bool, words_indexed: bool = True) -> str:
    """The ranking statement (SQLite dialect: the store translates it).

    ``words_indexed=False`` matches the words with ``ts_match_vq()`` (``@@``'s function, which no
    index serves), so the rows come from the filter's index and the words only check them.

    Parameters, in order: the terms (text[]), their document frequencies (float8[], NULL when not
    ``given_df``), the tsquery text, ``where``'s own parameters, the limit (twice).
    """
    match = "o.fts @@ to_tsquery('simple', ?)" if words_indexed else "ts_match_vq(o.fts, to_tsquery('simple', ?))"
    df = "SELECT i, df AS n FROM q" if given_df else "SELECT i, sum(n)::float8 AS n FROM tf GROUP BY i"
    return (
        "WITH q AS (SELECT * FROM unnest(?::text[], ?::float8[]) WITH ORDINALITY AS q(t, df, i)), "
        # One document per distinct label and text, named by its lowest id ``d``, with its row count.
        # A window (byte order: no locale compare), not a join back: CTE row estimates are guesses,
        # and a misjudged join of documents against rows goes quadratic.
        "cand AS MATERIALIZED (SELECT o.id, o.fts, o.fts_len, count(*) OVER w AS n, min(o.id) OVER w AS d "
        f"FROM observations o WHERE {match}{where} "
        'WINDOW w AS (PARTITION BY o.label COLLATE "C", o.text COLLATE "C")), '
        # Lexemes that start with a query term, found in one pass over each document (unnest() in the
        # select list: no tuplestore per document); only those few are matched to their terms.
        "hits AS MATERIALIZED (SELECT s.d, s.n, s.len, (s.u).lexeme AS lexeme, "
        "COALESCE(array_length((s.u).positions, 1), 1) AS k "
        "FROM (SELECT c.d, c.n, c.fts_len AS len, unnest(c.fts) AS u FROM cand c WHERE c.id = c.d) s "
        "WHERE (s.u).lexeme ^@ ANY (ARRAY(SELECT t FROM q))), "
        "tf AS (SELECT h.d, h.n, h.len, q.i, sum(h.k)::float8 AS tf FROM hits h JOIN q ON starts_with(h.lexeme, q.t) "
        "GROUP BY h.d, h.n, h.len, q.i), "
        f"df AS ({df}), "
        "st AS MATERIALIZED (SELECT GREATEST(COALESCE(sum(docs), 0), 1)::float8 AS docs, "
        "GREATEST(COALESCE(sum(tokens), 0), 1)::float8 AS tokens FROM fts_stats), "
        # FTS5's arithmetic exactly: float8, idf floored at 1e-6, terms summed in query order.
        "scored AS (SELECT tf.d, sum(GREATEST(ln((0.5::float8 + st.docs - df.n) / "
        "(0.5::float8 + df.n)), 1e-6::float8) * ((tf.tf * (1.2::float8 + 1.0::float8)) / (tf.tf + 1.2::float8 * "
        "(1.0::float8 - 0.75::float8 + 0.75::float8 * tf.len / (st.tokens / st.docs)))) ORDER BY tf.i) AS score "
        "FROM tf JOIN df ON df.i = tf.i CROSS JOIN st GROUP BY tf.d), "
        # The best ``limit`` documents hold the best ``limit`` rows: each has a row (its lowest id)
        # that outranks every row of a document after them. Only their rows are listed.
        "top AS MATERIALIZED (SELECT d, score FROM scored ORDER BY score DESC, d LIMIT ?) "
        "SELECT c.id FROM top JOIN cand c ON c.d = top.d ORDER BY top.score DESC, c.id LIMIT ?"
    )


class KeywordRanker:
    """BM25 keyword search over one PostgreSQL store's observations (see the module docstring).

    Args:
        read: runs one SQLite-dialect read statement and returns its rows.
    """

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._generation: tuple[int, int] | None = None
        self._df: dict[str, float] = {}

    def ids(self, text: str, where: str = "", params: Sequence[Any] = (), limit: int = 20) -> list[int]:
        """Ids matching ``text``'s words as prefixes, BM25 best first (ties: lower id first)."""
        terms = query_terms(text)
        if not terms:
            return []
        dfs = self.document_frequencies(terms) if where else None
        # A common word narrowed by a selective, indexed filter (one source, an hour of it): walking
        # the word's posting list in the GIN index (~25 ms for 170k rows) costs more than checking
        # the filter's rows, which the planner misjudges; its own plan of the filter decides.
        indexed = dfs is None or not self.filter_first(where, params, sum(dfs))
        rows = self._read(ranking_sql(where, dfs is not None, indexed),
                          [terms, dfs, prefix_tsquery(terms), *params, int(limit), int(limit)])
        return [int(r[0]) for r in rows]

    def filter_first(self, where: str, params: Sequence[Any], word_rows: float) -> bool:
        """Whether to read ``where``'s rows and check the words on them, rather than the words' index.

        Yes when the planner reads the filter through an index (no sequential scan) and expects it
        to keep ``_FILTER_FIRST`` times fewer rows than the words match (planning only, nothing runs).
        """
        (plan,), = self._read(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM observations o WHERE TRUE{where}", params)
        rows = float(plan[0]["Plan"]["Plan Rows"])
        return rows * _FILTER_FIRST < word_rows and "Seq Scan" not in json.dumps(plan)

    def document_frequencies(self, terms: Sequence[str]) -> list[float]:
        """Rows of the whole table matching each term as a prefix (FTS5's ``nHit``), cached per table state."""
        (docs, tokens), = self._read("SELECT COALESCE(sum(docs), 0), COALESCE(sum(tokens), 0) FROM fts_stats", ())
        generation = (int(docs), int(tokens))
        with self._lock:
            if generation != self._generation or len(self._df) > _CACHE_TERMS:
                self._df, self._generation = {}, generation
            known = {t: self._df[t] for t in terms if t in self._df}
        missing = sorted(set(terms) - known.keys())
        if missing:
            # One bitmap count on the GIN index per term (UNION ALL keeps each its own index scan).
            sql = " UNION ALL ".join(
                f"SELECT {k}, count(*) FROM observations WHERE fts @@ to_tsquery('simple', ?)"
                for k in range(len(missing)))
            counts = {int(k): float(n) for k, n in self._read(sql, [prefix_tsquery([t]) for t in missing])}
            fresh = {t: counts[k] for k, t in enumerate(missing)}
            known.update(fresh)
            with self._lock:
                if self._generation == generation:
                    self._df.update(fresh)
        return [known[t] for t in terms]
