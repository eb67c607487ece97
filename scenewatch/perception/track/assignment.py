"""Optimal one-to-one assignment (tracks × boxes) in numpy, and matching by a similarity floor.

:func:`linear_assignment` solves the rectangular linear assignment problem exactly with the
shortest-augmenting-path form of the Hungarian method (Jonker & Volgenant 1987), as laid out for
rectangular matrices by Crouse, "On implementing 2D rectangular assignment algorithms", IEEE
TAES 52(4), 2016, pp. 1685-1686 — the algorithm behind ``scipy.optimize.linear_sum_assignment``,
with the same tie-breaking (prefer an unassigned column among equally short paths), so that
equal optima resolve the same way. One augmenting path per row, each a Dijkstra search over the
columns with dual potentials ``u``, ``v`` keeping reduced costs non-negative: ``O(n²·m)``, which
for the tens of tracks and boxes here is well under a millisecond.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Pairs = list[tuple[int, int]]


def _augmenting_path(cost: NDArray[np.float64], u: NDArray[np.float64], v: NDArray[np.float64],
                     row4col: NDArray[np.int64], path: NDArray[np.int64], row: int
                     ) -> tuple[int, float, NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Shortest path from free ``row`` to a free column in the reduced-cost graph.

    Returns:
        The sink column, the path length, the tentative distance to every column, and the rows
        and columns the search settled.
    """
    n_rows, n_cols = cost.shape
    dist = np.full(n_cols, np.inf)
    seen_rows = np.zeros(n_rows, bool)
    seen_cols = np.zeros(n_cols, bool)
    remaining = np.arange(n_cols - 1, -1, -1)  # scanned in this order; a settled column is swapped out
    n_left = n_cols
    shortest = 0.0
    i = row
    while True:
        seen_rows[i] = True
        cols = remaining[:n_left]
        reduced = shortest + cost[i, cols] - u[i] - v[cols]
        closer = reduced < dist[cols]
        path[cols[closer]] = i
        dist[cols[closer]] = reduced[closer]
        lengths = dist[cols]
        lowest = float(lengths.min())
        if not np.isfinite(lowest):
            raise ValueError("cost matrix has no finite assignment")
        # Among the shortest, the last free column in scan order ends the path; else the first one.
        free_ties = np.flatnonzero((lengths == lowest) & (row4col[cols] < 0))
        at = int(free_ties[-1]) if free_ties.size else int(np.argmax(lengths == lowest))
        shortest = lowest
        j = int(cols[at])
        seen_cols[j] = True
        n_left -= 1
        remaining[at] = remaining[n_left]
        if row4col[j] < 0:
            return j, shortest, dist, seen_rows, seen_cols
        i = int(row4col[j])


def linear_assignment(cost: NDArray[np.floating], maximize: bool = False) -> tuple[NDArray[np.int64],
                                                                                     NDArray[np.int64]]:
    """Rows and columns of the assignment with the least (or greatest) total cost.

    Every row is assigned when there are no more rows than columns, else every column.

    Args:
        cost: ``N×M`` matrix of finite costs.
        maximize: find the greatest total instead.

    Returns:
        ``(rows, cols)``, the pairs sorted by row.
    """
    c = np.asarray(cost, np.float64)
    if c.ndim != 2:
        raise ValueError(f"cost must be 2-D, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("cost matrix holds NaN or infinite entries")
    if c.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    transposed = c.shape[0] > c.shape[1]
    if transposed:
        c = c.T
    if maximize:
        c = -c
    if c.shape[0] == 1:  # one row: its cheapest column, the first of equals (as the search below picks)
        best = int(np.argmin(c[0]))
        return (np.array([best]), np.zeros(1, np.int64)) if transposed else (np.zeros(1, np.int64), np.array([best]))
    n_rows, n_cols = c.shape
    u, v = np.zeros(n_rows), np.zeros(n_cols)
    path = np.full(n_cols, -1, np.int64)
    col4row = np.full(n_rows, -1, np.int64)
    row4col = np.full(n_cols, -1, np.int64)
    for row in range(n_rows):
        sink, shortest, dist, seen_rows, seen_cols = _augmenting_path(c, u, v, row4col, path, row)
        u[row] += shortest
        others = seen_rows.copy()
        others[row] = False
        u[others] += shortest - dist[col4row[others]]
        v[seen_cols] -= shortest - dist[seen_cols]
        j = sink
        while True:  # flip the path: each column on it takes the row that reached it
            i = int(path[j])
            row4col[j] = i
            col4row[i], j = j, int(col4row[i])
            if i == row:
                break
    if transposed:
        order = np.argsort(col4row, kind="stable")
        return col4row[order], order.astype(np.int64)
    return np.arange(n_rows, dtype=np.int64), col4row


def match(similarity: NDArray[np.floating], min_similarity: float) -> tuple[Pairs, list[int], list[int]]:
    """Assignment with the greatest total similarity, keeping pairs at or above ``min_similarity``.

    Args:
        similarity: ``N×M`` similarities (IoU of predicted track boxes × detected boxes).
        min_similarity: pairs below this are left unmatched.

    Returns:
        ``(pairs, unmatched_rows, unmatched_cols)``; the unmatched lists are sorted.
    """
    n_rows, n_cols = similarity.shape
    pairs: Pairs = []
    if n_rows and n_cols:
        rows, cols = linear_assignment(similarity, maximize=True)
        pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)
                 if similarity[r, c] >= min_similarity]
    used_rows = {r for r, _ in pairs}
    used_cols = {c for _, c in pairs}
    return (pairs, [r for r in range(n_rows) if r not in used_rows],
            [c for c in range(n_cols) if c not in used_cols])
