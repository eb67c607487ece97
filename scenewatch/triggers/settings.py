"""Settings for trigger rules and their actions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scenewatch._settings_base import Section


class ActionSettings(Section):
    """What to do when a rule fires; only configured actions ever run."""

    type: Literal["log", "webhook", "mqtt", "command"]
    url: str | None = Field(None, description="webhook URL (HTTP POST of the event as JSON)")
    topic: str | None = Field(None, description="MQTT topic")
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    qos: int = Field(1, ge=0, le=2, description="MQTT quality of service")
    command: list[str] | None = Field(None, description="argv run without a shell; the event JSON is on stdin")
    headers: dict[str, str] = Field(default_factory=dict, description="extra HTTP headers for webhooks")
    timeout: float = Field(5.0, gt=0, description="seconds one delivery attempt may take")


class StepSettings(Section):
    """What a row must be to match (used for the second step of a sequence)."""

    kind: str | None = Field(None, description="observation kind (object, sound, text, speech)")
    concept: str | None = Field(
        None, description="a vocabulary word (package, doorbell, phone): matches whatever it resolves to")
    label: str | None = Field(None, description="label to match (case-insensitive)")
    labels: list[str] = Field(default_factory=list, description="any of these labels")
    text: str | None = Field(None, description="substring the text must contain (case-insensitive; a|b: either)")
    min_confidence: float = Field(0.3, ge=0, le=1)


class RuleSettings(Section):
    """A rule over observations.

    A rule matches rows by kind/label/text/confidence/zone and fires when the match has been
    present for ``min_duration`` seconds with ``min_count`` distinct tracks at once; with
    ``then`` it fires when the second step follows within ``within`` seconds; with
    ``absent_for`` it fires when something that was present has been gone that long.
    """

    name: str
    kind: str | None = Field(None, description="observation kind to match (object, sound, text, speech)")
    concept: str | None = Field(
        None, description="a vocabulary word (package, doorbell, phone): matches whatever it resolves to")
    label: str | None = Field(None, description="label to match (case-insensitive)")
    labels: list[str] = Field(default_factory=list, description="any of these labels (case-insensitive)")
    text: str | None = Field(None, description="substring the text must contain (case-insensitive; a|b: either)")
    min_duration: float = Field(0.0, ge=0, description="present for at least this many seconds")
    min_count: int = Field(1, ge=1, description="at least this many distinct tracks at once")
    min_confidence: float = Field(0.3, ge=0, le=1)
    zone: tuple[float, float, float, float] | None = Field(
        None, description="[x1, y1, x2, y2] pixels the box centre must be inside")
    then: StepSettings | None = Field(None, description="sequence: this step must follow the match")
    within: float = Field(30.0, gt=0, description="seconds allowed between the steps of a sequence")
    absent_for: float | None = Field(None, gt=0, description="fire when the match has been gone this long")
    sources: list[str] = Field(default_factory=list, description="only these source ids (empty: all)")
    severity: Literal["info", "warning", "critical"] = "info"
    cooldown: float = Field(30.0, ge=0, description="seconds before the rule may fire again")
    actions: list[ActionSettings] = Field(default_factory=lambda: [ActionSettings(type="log")])


class TriggerSettings(Section):
    """All rules, and how actions are delivered."""

    rules: list[RuleSettings] = Field(default_factory=list)
    merge_gap: float = Field(1.5, ge=0, description="seconds a match may be missing and still be one presence")
    retry_base: float = Field(1.0, gt=0, description="first retry delay in seconds (doubles each attempt)")
    retry_max: float = Field(60.0, gt=0, description="longest retry delay in seconds")
    max_attempts: int = Field(0, ge=0, description="give up after this many attempts (0: never)")
    poll_interval: float = Field(0.5, gt=0, description="seconds between outbox delivery passes")
