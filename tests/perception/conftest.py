"""Fixtures shared by the perception tests."""

from __future__ import annotations

import os

import pytest

from scenewatch.errors import BackendUnavailable
from scenewatch.perception.sounds import SOUND_TAGGERS
from scenewatch.perception.sounds.settings import SoundSettings
from scenewatch.perception.sounds.yamnet import YamnetTagger


@pytest.fixture(scope="module")
def yamnet() -> YamnetTagger:
    """The embedded YAMNet tagger; skipped when not installed, except under CI=true (then it fails)."""
    try:
        tagger: YamnetTagger = SOUND_TAGGERS.get("yamnet")(SoundSettings())
    except BackendUnavailable as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))
    return tagger
