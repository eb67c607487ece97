"""Rule matching and the ``--for`` phrase compiler.

A :class:`Matcher` decides whether one observation matches a rule step (kind, labels, text,
a vocabulary concept, confidence, zone). :func:`rules_from_phrases` turns plain phrases into
rule settings; what a word means comes from :func:`scenewatch.vocabulary.concepts.resolve`, the
same lookup watching and questions use::

    "doorbell"                              -> sound rule on Doorbell/Ding-dong/Bell/Chime
    "package"                               -> concept rule (arrivals at rest, package objects)
                                               plus a text rule on its shipping label
    "person for 3 s" / "person for 1:30"    -> object person present >= 3 s / 90 s
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
from scenewatch.triggers.settings import RuleSettings, StepSettings
from scenewatch.types import Observation
from scenewatch.vocabulary.concepts import Targets, resolve
from scenewatch.vocabulary.time import DURATION, duration_seconds
from scenewatch.vocabulary.words import SPEECH_VERBS_RE, TEXT_WORDS_RE


@dataclass(frozen=True, slots=True)
class Matcher:
    """One step of a rule, compiled."""

    kind: str | None
    labels: frozenset[str]
    texts: tuple[str, ...]  # any of these substrings ("PRIORITY MAIL|UPS" in settings)
    min_confidence: float
    zone: tuple[float, float, float, float] | None = None
    targets: Targets | None = None  # a vocabulary concept: any of its targets

    @classmethod
    def from_settings(cls, s: RuleSettings | StepSettings) -> Matcher:
        """Compile a rule (its first step) or a sequence step.

        Raises:
            ConfigError: the step names a concept the vocabulary cannot resolve.
        """
        labels = {x.lower() for x in s.labels}
        if s.label:
            labels.add(s.label.lower())
        zone = getattr(s, "zone", None)
        texts = tuple(t.strip() for t in s.text.lower().split("|") if t.strip()) if s.text else ()
        targets = None
        if s.concept:
            targets = resolve(s.concept).targets
            if targets.empty:
                raise ConfigError(f"rule concept {s.concept!r} names nothing perception can write; "
                                  "see `scenewatch concepts`")
        return cls(s.kind, frozenset(labels), texts, s.min_confidence, zone, targets)

    def matches(self, o: Observation) -> bool:
        """Whether ``o`` satisfies this step."""
        if self.targets is not None and not self.targets.admits(o):
            return False
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


_SECONDS = rf"({DURATION})"
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _slug(phrase: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", phrase.lower()).strip("-")[:48] or "rule"


def step_from_targets(targets: Targets, concept: str) -> StepSettings:
    """The plainest step that matches ``targets``: one kind with labels or text where that says it
    all, else a ``concept`` step that matches every target of the concept."""
    t = targets
    only_objects = t.objects and not (t.sounds or t.texts or t.speech or t.any_of or t.arrival is not None)
    only_sounds = t.sounds and not (t.objects or t.texts or t.speech or t.any_of or t.arrival is not None)
    if only_objects:
        return StepSettings(kind="object", labels=list(t.objects))
    if only_sounds:
        return StepSettings(kind="sound", labels=list(t.sounds))
    if t.texts and not (t.objects or t.sounds or t.speech or t.any_of or t.arrival is not None):
        return StepSettings(kind="text", text="|".join(t.texts))
    if t.speech and not (t.objects or t.sounds or t.texts or t.any_of or t.arrival is not None):
        return StepSettings(kind="speech", text="|".join(t.speech))
    if t.any_of and len(t.any_of) == 1 and not (t.objects or t.sounds or t.texts or t.speech or
                                                  t.arrival is not None):
        return StepSettings(kind=t.any_of[0])
    return StepSettings(concept=concept)


def _step(phrase: str) -> StepSettings:
    """A single step from a phrase, through the vocabulary."""
    r = resolve(phrase)
    if r.via == "unknown" or r.targets.empty:
        word = re.sub(r"[^a-z0-9 ,()'-]+", " ", r.term.lower()).strip()
        if not re.search(r"[a-z]", word):
            raise ConfigError(f"cannot make a trigger from {phrase!r}")
        # an unknown word: match it as a label of any kind (an open-vocabulary detector's prompt)
        return StepSettings(labels=[re.sub(r"\s+(is|are|at|for|in|on)\b.*$", "", word).strip()])
    return step_from_targets(r.targets, r.concept.name if r.concept is not None else r.phrase)


def rule_from_phrase(phrase: str) -> RuleSettings:
    """Compile one ``--for`` phrase into a rule (see the module docstring for the forms).

    Raises:
        ConfigError: the phrase names nothing a rule can match.
    """
    p = " ".join(phrase.strip().split())
    low = p.lower()
    name = _slug(p)
    m = re.match(rf"(.+?)\s+then\s+(.+?)(?:\s+within\s+{_SECONDS})?$", p, re.I)
    if m:
        first, second = _step(m[1]), _step(m[2])
        within = duration_seconds(m[3]) if m[3] else 30.0
        return RuleSettings(name=name, kind=first.kind, concept=first.concept, labels=first.labels, text=first.text,
                            then=second, within=within)
    absent = re.match(rf"(.+?)\s+(?:is\s+|was\s+)?(gone|taken|removed|missing|disappears?|leaves?)"
                      rf"(?:\s+for\s+{_SECONDS})?$", p, re.I)
    if absent:
        step = _step(absent[1])
        gone = duration_seconds(absent[3]) if absent[3] else 5.0
        return RuleSettings(name=name, kind=step.kind, concept=step.concept, labels=step.labels, text=step.text,
                            absent_for=gone, cooldown=0.0)
    duration = 0.0
    m = re.search(rf"\s+for\s+(?:at least\s+|more than\s+|over\s+)?{_SECONDS}$", low)
    if m:
        duration = duration_seconds(m[1])
        low = low[:m.start()]
        p = p[:m.start()]
    count = 1
    m = re.match(r"(?:at least|more than|over|>=?)?\s*(\d+|two|three|four|five|six)\s+(.+)$", low)
    if m and not re.search(rf"(?:{SPEECH_VERBS_RE}|{TEXT_WORDS_RE})\s", low):  # "2 signs read …" is no count
        count = int(m[1]) if m[1].isdigit() else _WORDS[m[1]]
        if low.startswith(("more than", "over", ">")) and not low.startswith(">="):
            count += 1
        low = m[2]
        p = low
    step = _step(p)
    return RuleSettings(name=name, kind=step.kind, concept=step.concept, labels=step.labels, text=step.text,
                        min_duration=duration, min_count=count)


def rules_from_phrases(phrases: list[str]) -> list[RuleSettings]:
    """Compile ``--for`` phrases; phrases that are plain concepts still make presence rules.

    A thing known also by what is written on it ("package" → its shipping label, a hint of the
    vocabulary) gets a second, text rule, so "packages at the door" fires when a label is read.
    """
    rules: list[RuleSettings] = []
    for phrase in (p for p in phrases if p.strip()):
        rule = rule_from_phrase(phrase)
        rules.append(rule)
        plain = rule.then is None and rule.absent_for is None and rule.min_duration == 0 and rule.min_count == 1
        hints = resolve(phrase).targets.hints
        if plain and hints:
            rules.append(RuleSettings(name=f"{rule.name}-label", kind="text", text="|".join(hints),
                                      cooldown=rule.cooldown, actions=rule.actions))
    return rules
