"""Settings for trigger rules and their actions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scenewatch._settings_base import Section


class ActionSettings(Section):
    """What to do when a rule fires; only configured actions ever run."""

    type: Literal["log", "webhook", "mqtt", "command"]
    url: str | None = None
    topic: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    command: list[str] | None = None


class RuleSettings(Section):
    """A rule over observations."""

    name: str
    kind: str | None = Field(None, description="observation kind to match (object, sound, text, speech)")
    label: str | None = Field(None, description="label to match (case-insensitive)")
    text: str | None = Field(None, description="substring the text must contain (case-insensitive)")
    min_duration: float = Field(0.0, ge=0, description="present for at least this many seconds")
    min_count: int = Field(1, ge=1)
    min_confidence: float = Field(0.3, ge=0, le=1)
    cooldown: float = Field(30.0, ge=0, description="seconds before the rule may fire again")
    actions: list[ActionSettings] = Field(default_factory=lambda: [ActionSettings(type="log")])


class TriggerSettings(Section):
    """All rules."""

    rules: list[RuleSettings] = Field(default_factory=list)
