"""The one time parser and formatter."""

from __future__ import annotations

import random

import pytest

from scenewatch.errors import ConfigError
from scenewatch.reasoning.planner import plan
from scenewatch.triggers.rules import rule_from_phrase
from scenewatch.vocabulary.time import (
    Window,
    find_window,
    format_duration,
    format_span,
    format_time,
    parse_duration,
    parse_window,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90 s", 90), ("90", 90), ("1:30", 90), ("1 h 5 min", 3900), ("2 minutes", 120), ("1.5 min", 90),
    ("1:02:03", 3723), ("3 hours", 10800), ("1 min 30 sec", 90), ("1 hour and 5 minutes", 3900), ("0:05", 5),
    ("45 secs", 45), ("2 h", 7200),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "abc", "1:2:3:4", "s", "-5 s", "five minutes"])
def test_bad_durations_are_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(bad)


@pytest.mark.parametrize(("text", "window"), [
    ("the first 2 minutes", Window(until=120)),
    ("in the first 15 seconds", Window(until=15)),
    ("the last 30 seconds", Window(last=30)),
    ("after 1:05", Window(since=65)),
    ("before 10 s", Window(until=10)),
    ("between 5 and 10 s", Window(since=5, until=10)),
    ("between 1 and 2 minutes", Window(since=60, until=120)),
    ("from 0:30 to 1:00", Window(since=30, until=60)),
    ("at 12 s", Window(since=10, until=14)),
    ("during the first 1 h 5 min", Window(until=3900)),
])
def test_windows(text: str, window: Window) -> None:
    assert parse_window(text) == window


def test_numbers_that_are_not_times_stay() -> None:
    for text in ("when did the first 2 people arrive", "was anyone at 3", "how many cars",
                 "what happened after 2 people arrived", "were there between 2 and 3 people"):
        assert find_window(text) == (text, None)
    assert find_window("what happened after 2 people arrived after 30 s") == (
        "what happened after 2 people arrived", Window(since=30))
    assert find_window("anything after 30?") == ("anything ?", Window(since=30))
    with pytest.raises(ConfigError):
        parse_window("the first person")


def test_questions_and_rules_use_the_same_parser() -> None:
    q = plan("when did the dog bark in the first 1 h 5 min?")
    assert q.until == 3900 and q.subjects[0].name == "bark"
    q = plan("what happened after 1:05?")
    assert q.since == 65
    q = plan("did anyone come in the last 2 minutes?")
    assert q.last_seconds == 120
    assert rule_from_phrase("person for 1 h").min_duration == 3600  # the old trigger parser had no hours
    assert rule_from_phrase("person for 1:30").min_duration == 90
    assert rule_from_phrase("package gone for 2 minutes").absent_for == 120
    assert rule_from_phrase("doorbell then person within 1 min 30 s").within == 90


def test_formatter_round_trips_through_the_parser() -> None:
    rng = random.Random(16)
    for _ in range(200):
        x = round(rng.uniform(0, 20000), 1)
        assert parse_duration(format_time(x)) == pytest.approx(x, abs=0.05)
    assert format_time(12) == "12.0 s" and format_span(12, 14.5) == "12.0–14.5 s"
    assert [format_duration(x) for x in (42, 125, 3720, 7200)] == ["42.0 s", "2 min 5 s", "1 h 2 min", "2 h"]
