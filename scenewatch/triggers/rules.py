"""Rule matching and the ``--for`` phrase compiler.

A :class:`Matcher` decides whether one observation matches a rule step (kind, labels, text,
confidence, zone). :func:`rules_from_phrases` turns plain phrases into rule settings::

    "doorbell"                              -> sound rule on Doorbell/Ding-dong
    "person for 3 s"                        -> object person present >= 3 s
    "2 people" / "at least 2 cars"          -> count threshold
    "package gone" / "package taken"        -> absence (gone for 5 s)
    'text "PRIORITY"' / "reads PRIORITY"    -> OCR text match
    'someone says "help"'                   -> speech text match
    "doorbell then person within 30 s"      -> sequence
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scenewatch.errors import ConfigError
from scenewatch.reasoning.query import CONCEPTS
from scenewatch.triggers.settings import RuleSettings, StepSettings
from scenewatch.types import Observation


@dataclass(frozen=True, slots=True)
class Matcher:
    """One step of a rule, compiled."""

    kind: str | None
    labels: frozenset[str]
    texts: tuple[str, ...]  # any of these substrings ("PRIORITY MAIL|UPS" in settings)
    min_confidence: float
    zone: tuple[float, float, float, float] | None = None

    @classmethod
    def from_settings(cls, s: RuleSettings | StepSettings) -> Matcher:
        """Compile a rule (its first step) or a sequence step."""
        labels = {x.lower() for x in s.labels}
        if s.label:
            labels.add(s.label.lower())
        zone = getattr(s, "zone", None)
        texts = tuple(t.strip() for t in s.text.lower().split("|") if t.strip()) if s.text else ()
        return cls(s.kind, frozenset(labels), texts, s.min_confidence, zone)

    def matches(self, o: Observation) -> bool:
        """Whether ``o`` satisfies this step."""
        if self.kind and o.kind != self.kind:
            return False
        if self.labels and o.label.lower() not in self.labels:
            return False
        if self.texts and not any(t in o.text.lower() for t in self.texts):
            return False
        if o.confidence < self.min_confidence:
            return False
        if self.zone is not None:
            if o.box is None:
                return False
            x, y = (o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2
            z = self.zone
            if not (z[0] <= x <= z[2] and z[1] <= y <= z[3]):
                return False
        return True


_NUM = r"(\d+(?:\.\d+)?)"
_SECONDS = rf"{_NUM}\s*(s|sec|secs|seconds?|m|min|mins|minutes?)\b"
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _seconds(value: str, unit: str) -> float:
    return float(value) * (60 if unit.startswith("m") else 1)


def _slug(phrase: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", phrase.lower()).strip("-")[:48] or "rule"


def _step(phrase: str) -> StepSettings:
    """A single step from a phrase: a concept, a quoted text, or speech."""
    p = phrase.strip().lower()
    m = re.search(r"(?:says?|said|shouts?|speech)\s+[\"“']?([^\"”']+?)[\"”']?$", p)
    if m:
        return StepSettings(kind="speech", text=m[1].strip())
    m = re.search(r"(?:text|reads?|written|label|sign)\s+(?:(?:contains?|says?|reads?|with)\s+)?"
                  r"[\"“']?([^\"”']+?)[\"”']?$", phrase.strip(), re.IGNORECASE)
    if m:
        return StepSettings(kind="text", text=m[1].strip())
    m = re.fullmatch(r"[\"“']([^\"”']+)[\"”']", phrase.strip())
    if m:
        return StepSettings(kind="text", text=m[1])
    if re.fullmatch(r"[A-Z0-9][A-Z0-9 .,:#&/-]*[A-Z0-9]", phrase.strip()) and re.search(r"[A-Z]{2}", phrase):
        return StepSettings(kind="text", text=phrase.strip())  # written in capitals: text to read
    words = re.findall(r"[a-z][a-z-]*(?: [a-z-]+)?", p)
    for concept in sorted(CONCEPTS, key=lambda c: -max(len(w) for w in c.words)):
        if concept.name in ("speech", "text"):
            continue
        for w in sorted(concept.words, key=len, reverse=True):
            if re.search(rf"\b{re.escape(w)}\b", p):
                return StepSettings(kind=concept.kinds[0], labels=list(concept.labels))
    if not words:
        raise ConfigError(f"cannot make a trigger from {phrase!r}")
    # an unknown word: match it as a label of any kind (detector vocabulary, sound names)
    return StepSettings(labels=[re.sub(r"\s+(is|are|at|for|in|on)\b.*$", "", p).strip()])


def rule_from_phrase(phrase: str) -> RuleSettings:
    """Compile one ``--for`` phrase into a rule (see the module docstring for the forms).

    Raises:
        ConfigError: the phrase names nothing a rule can match.
    """
    p = " ".join(phrase.strip().split())
    low = p.lower()
    name = _slug(p)
    m = re.match(rf"(.+?)\s+then\s+(.+?)(?:\s+within\s+{_SECONDS})?$", low)
    if m:
        first, second = _step(m[1]), _step(m[2])
        within = _seconds(m[3], m[4]) if m[3] else 30.0
        return RuleSettings(name=name, kind=first.kind, labels=first.labels, text=first.text,
                            then=second, within=within)
    absent = re.match(rf"(.+?)\s+(?:is\s+|was\s+)?(gone|taken|removed|missing|disappears?|leaves?)"
                      rf"(?:\s+for\s+{_SECONDS})?$", low)
    if absent:
        step = _step(absent[1])
        gone = _seconds(absent[3], absent[4]) if absent[3] else 5.0
        return RuleSettings(name=name, kind=step.kind, labels=step.labels, text=step.text, absent_for=gone,
                            cooldown=0.0)
    duration = 0.0
    m = re.search(rf"\s+for\s+(?:at least\s+|more than\s+|over\s+)?{_SECONDS}$", low)
    if m:
        duration = _seconds(m[1], m[2])
        low = low[:m.start()]
        p = p[:m.start()]
    count = 1
    m = re.match(r"(?:at least|more than|over|>=?)?\s*(\d+|two|three|four|five|six)\s+(.+)$", low)
    if m and not re.search(r"(says?|text|reads?)\s", low):
        count = int(m[1]) if m[1].isdigit() else _WORDS[m[1]]
        if low.startswith(("more than", "over", ">")) and not low.startswith(">="):
            count += 1
        low = m[2]
        p = low
    step = _step(p)
    return RuleSettings(name=name, kind=step.kind, labels=step.labels, text=step.text, min_duration=duration,
                        min_count=count)


def rules_from_phrases(phrases: list[str]) -> list[RuleSettings]:
    """Compile ``--for`` phrases; phrases that are plain concepts still make presence rules.

    An object the detector has no class for but that is known by what is written on it
    ("package" → shipping-label text, from the concept mapping) also gets a text rule, so
    "packages at the door" fires when a label is read.
    """
    from scenewatch.perception.concepts import SYNONYMS

    rules: list[RuleSettings] = []
    for phrase in (p for p in phrases if p.strip()):
        rule = rule_from_phrase(phrase)
        rules.append(rule)
        plain = rule.then is None and rule.absent_for is None and rule.min_duration == 0 and rule.min_count == 1
        texts = [label for stage, label in SYNONYMS.get(phrase.strip().lower(), []) if stage == "text"]
        if plain and rule.kind == "object" and texts:
            rules.append(RuleSettings(name=f"{rule.name}-label", kind="text", text="|".join(texts),
                                      cooldown=rule.cooldown, actions=rule.actions))
    return rules
