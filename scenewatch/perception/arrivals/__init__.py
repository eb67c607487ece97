"""Arrivals and departures of objects without a class (background model + lasting change).

See :mod:`scenewatch.perception.arrivals.stage` for the stage and
:mod:`scenewatch.perception.arrivals.background` for the per-source background model.
"""

from __future__ import annotations

from scenewatch.perception.arrivals.settings import ArrivalSettings

__all__ = ["ArrivalSettings"]
