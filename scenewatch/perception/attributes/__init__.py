"""Attributes measured from pixels and boxes: colour name, size, motion direction, speed.

A helper module, not a stage: the objects stage calls it for every track and the arrivals
stage for every arrival. Everything here is plain numpy + OpenCV on small crops.

* :mod:`~scenewatch.perception.attributes.colour` — dominant colour as one of the 11 basic
  colour terms (Berlin & Kay), classified in CIELAB on the object's own pixels.
* :mod:`~scenewatch.perception.attributes.motion` — direction, speed and size from box samples.
"""

from __future__ import annotations

from scenewatch.perception.attributes.colour import BASIC_COLOURS, ColourReading, object_colour
from scenewatch.perception.attributes.motion import Motion, box_size, describe, motion_of

__all__ = ["BASIC_COLOURS", "ColourReading", "Motion", "box_size", "describe", "motion_of", "object_colour"]
