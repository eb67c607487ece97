"""Comparing two runs' rows (the Ray, chunked and remote-stage tests)."""

from __future__ import annotations

from collections import Counter

from scenewatch.types import Observation

KEYFRAME = 1.0  # the keyframe floor interval (1 fps): how far a span's ends may move between runs


def assert_same_rows(a: list[Observation], b: list[Observation], tol: float = KEYFRAME) -> None:
    """The same rows one to one: kind, label, text, and each span's ends within ``tol``."""
    assert Counter(o.kind for o in a) == Counter(o.kind for o in b)
    left = sorted(b, key=lambda o: o.start)
    for o in sorted(a, key=lambda o: o.start):
        match = next((x for x in left if (x.kind, x.label, x.text) == (o.kind, o.label, o.text)
                      and abs(x.start - o.start) <= tol and abs(x.end - o.end) <= tol), None)
        assert match is not None, f"no counterpart for {o.kind} {o.label!r} {o.text!r} {o.start:.2f}-{o.end:.2f}"
        left.remove(match)
    assert not left
