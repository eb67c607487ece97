"""Plan a question into a typed :class:`~scenewatch.reasoning.query.Query`: rules first, model fallback.

The rules cover the phrasings of the nine intents (when / what / what-text / what-said / count /
duration / order / yes-no / describe), subjects from the concept vocabulary plus the labels the
store actually holds, and time windows ("in the first 15 seconds", "between 5 and 10 s"). Only
when no rule finds an intent is the language model asked, through a schema whose fields are
enums, so its output can only ever be one of the typed plans.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, cast

from scenewatch.reasoning.query import INTENTS, Detail, Intent, Moment, Query, Subject
from scenewatch.vocabulary.concepts import _word_index, carrier, concept_targets, find_concepts, resolve
from scenewatch.vocabulary.table import Concept
from scenewatch.vocabulary.time import find_wall_range, find_window
from scenewatch.vocabulary.words import QUESTION_FILLER, SPEECH_VERBS_RE, STOPWORDS, TEXT_WORDS

if TYPE_CHECKING:
    from scenewatch.reasoning.reasoners import Reasoner

log = logging.getLogger(__name__)

_SPLIT = re.compile(r",?\s+and\s+(?=(?:what|when|how|who|which|where|did|does|was|is|were)\b)")
_STOP = STOPWORDS | QUESTION_FILLER
_ARRIVE = re.compile(r"\b(arriv\w*|deliver\w*|appear\w*|show(?:ed)? up|enter\w*|came|come|dropped|start\w*|began|"
                     r"first|go(?:es)? off|went off|rang|ring\w*|sound(?:ed)?)\b")
_LEAVE = re.compile(r"\b(leave|left|leaving|disappear\w*|gone|go|went|taken|removed|exit\w*|depart\w*|"
                    r"picked up|last|stop\w*|end\w*)\b")


def _window(q: str) -> tuple[str, float | None, float | None, float | None]:
    """Strip a time window from the question: ``(rest, since, until, last_seconds)``."""
    rest, window = find_window(q)
    if window is None:
        return q, None, None, None
    return rest, window.since, window.until, window.last


def concept_subject(term: str, concept: Concept) -> Subject:
    """The subject a concept word names, resolved by the vocabulary exactly as watch and triggers resolve it."""
    r = resolve(term)
    targets = r.targets if r.concept is concept else concept_targets(concept)
    return Subject(term, concept.name, targets.kinds, targets.labels(), targets=targets)


def _find_subjects(q: str, vocabulary: Mapping[str, str]) -> tuple[list[tuple[int, Subject, Concept | None]], str]:
    """Subjects mentioned in ``q`` with their position; matched words are blanked out."""
    found: list[tuple[int, Subject, Concept | None]] = []
    work = q
    for start, end, word, concept in find_concepts(q):
        found.append((start, concept_subject(word, concept), concept))
        work = work[:start] + " " * (end - start) + work[end:]
    for label, kind in sorted(vocabulary.items(), key=lambda kv: -len(kv[0])):
        if not label or len(label) < 2:
            continue
        for form in (label, label + "s"):
            hit = re.search(rf"\b{re.escape(form)}\b", work)
            if hit:
                found.append((hit.start(), Subject(form, label, (kind,), (label,)), None))
                work = work[:hit.start()] + " " * len(form) + work[hit.end():]
                break
    found.sort(key=lambda f: f[0])
    # one subject per concept, first mention wins
    seen: set[str] = set()
    unique: list[tuple[int, Subject, Concept | None]] = []
    for pos, subj, known in found:
        if subj.name not in seen:
            seen.add(subj.name)
            unique.append((pos, subj, known))
    return unique, work


def _speech_phrase(q: str) -> str | None:
    quoted = re.search(r"[\"“'‘]([^\"”'’]{2,})[\"”'’]", q)
    if quoted:
        return quoted[1].strip()
    # passive: "was the weather talked about?", "has money been mentioned?"
    m = re.search(r"^(?:was|were|is|are|has|have|had)\s+(?:there\s+)?(?:any\s+)?(.+?)\s+(?:been\s+|being\s+)?"
                  r"(?:talked about|spoken about|mentioned|discussed|brought up|said)\??$", q)
    if m and not re.match(r"^(anything|something)\b", m[1]):
        return m[1].strip()
    m = re.search(rf"{SPEECH_VERBS_RE}\s+(?:about\s+|that\s+|to\s+|the word\s+)?(.+?)\??$", q)
    if m and m[1].strip() and not re.match(r"^(anything|something)\b", m[1].strip()):
        return m[1].strip()
    m = re.search(r"\babout\s+(?:the\s+)?(.+?)\??$", q)
    return m[1].strip() if m else None


_UNUSUAL = re.compile(r"\b(unusual|strange|odd|weird|suspicious|out of the ordinary|abnormal|anomal\w*|"
                      r"unexpected|surprising|stand out|stood out|stands out|out of place|"
                      r"(?:isn't|is not|wasn't|was not|not|aren't|weren't) "
                      r"(?:normal|usual|typical|expected|routine))\b")
_STORY = re.compile(r"^(?:(?:so|ok|okay|hey|please|can you|could you|would you|tell me|i want to know|"
                    r"i'd like to know|do you know)[, ]+)*(?:what (?:has |had |just )?happened|describe|summari[sz]e|"
                    r"sum up|recap|tell me what|what went on|what (?:is|was|'s) going on|what's going on|"
                    r"give me (?:a |the )?(?:summary|recap|rundown|overview)|(?:a |the )?(?:summary|recap|rundown|"
                    r"overview)|what did (?:you|the camera) (?:see|notice|catch)|anything happen|did anything happen|"
                    r"(?:is |was )?(?:there )?anything (?:going on|happening)|any activity|"
                    r"what occurred|walk me through)")
_DETAILS: tuple[tuple[Detail, re.Pattern[str]], ...] = (
    ("colour", re.compile(r"\bcolou?rs?(?:ed)?\b|\bwhat shade\b|\bwhat hue\b")),
    ("direction", re.compile(r"\bdirection\b|\bwhich way\b|\bwhat way\b|\bmove[sd]? (left|right)\b|"
                             r"\bheading\b|\b(?:left or right|right or left)\b|"
                             r"\bwhere (?:did|does|was) .+ (?:go|going|head\w*|roll\w*|mov\w*)\b")),
    ("speed", re.compile(r"\bhow (?:fast|quick\w*|slow\w*)\b|\bspeed\b")),
    ("size", re.compile(r"\bhow (?:big|large|small|tiny|huge)\b|\bsize\b|\bdimensions?\b")),
)
_AGENTS = frozenset({"someone", "somebody", "anyone", "anybody", "a person", "people"})
# "was the parcel taken?", "did someone pick up the box?", "is it still there?": a departure asked as yes/no
_TAKE = re.compile(r"\b(take|takes|taken|took|remov\w*|pick(?:s|ed)? (?:it |them )?up|collect\w*|still there|"
                   r"stolen|steal\w*|gone)\b")
# "who rang the bell", "was anyone there when the doorbell rang": an agent of a sound
_AGENT_WORD = re.compile(r"\b(?:anyone|anybody|someone|somebody)\b")
_AGENT_ACT = re.compile(r"\b(?:ring\w*|rang|rung|press\w*|push\w*|knock\w*|there|at the door)\b")
# "can you read the label?", "could you tell me the colour": a request, not a yes/no question
_REQUEST = re.compile(r"^(?:(?:please|so|ok|okay|hey)[, ]+)*(?:can|could|would|will) you (?:please )?"
                      r"(?:tell me |show me |let me know )?(?=\w)")
_QUESTION_WORDS = ("what", "when", "which", "where")
_FIXABLE = ("colour", "color", "direction", "which", "happened", "summarise", "summarize", "unusual", "written",
            "delivered", "arrived", "package", "parcel", "doorbell", "mention", "anything", "label", "person")


def detail_of(q: str) -> Detail | None:
    """The measured aspect a question asks about (colour, direction, speed, size), if any."""
    return next((d for d, rx in _DETAILS if rx.search(q)), None)


def fix_typos(q: str) -> str:
    """Mend one-letter slips in the words the rules key on ("colur" → "colour", "wich" → "which").

    A question's first word may be a short question word ("wht", "wen"); elsewhere only words of
    four letters or more are mended (a "hat" is not a "what").
    """
    words = re.findall(r"[a-z]+|[^a-z]+", q)
    known = set(_FIXABLE) | set(_word_index())
    out = []
    for i, w in enumerate(words):
        if i == 0 and len(w) == 3 and w not in _STOP and w not in known:
            close = difflib.get_close_matches(w, _QUESTION_WORDS, n=1, cutoff=0.85)
            w = close[0] if close else w
        elif len(w) >= 4 and w.isalpha() and w not in known and w not in _STOP:
            close = difflib.get_close_matches(w, _FIXABLE, n=1, cutoff=0.8)
            w = close[0] if close else w
        out.append(w)
    return "".join(out)


def _intent(q: str, names: set[str], heard: bool = False) -> tuple[Intent | None, bool]:
    """The intent and whether the question is polar (yes/no); ``heard``: a sound is among the subjects."""
    q = _REQUEST.sub("", q)
    polar = bool(re.match(r"^(is|was|were|are|did|does|do|has|have|had|can|could|will|any)\b", q))
    if _UNUSUAL.search(q):
        return "unusual", False
    if _STORY.match(q):
        return "describe", False
    if names and detail_of(q) is not None:
        return "attribute", False
    if re.match(r"^(?:so |and |but )?who\b", q) and not re.search(rf"\bwho (?:said|{SPEECH_VERBS_RE})", q):
        return "who", False
    if polar and heard and _AGENT_WORD.search(q) and _AGENT_ACT.search(q):
        return "who", True
    if re.search(r"\bhow long\b|\bfor how (many|much)\b|\bduration\b|\bhow much time\b|"
                 r"\bhow many (?:seconds|minutes|hours|secs|mins)\b", q):
        return "duration", False
    if re.search(r"\bhow many\b|\bcount\b|\bnumber of\b", q):
        return "count", False
    if polar and _TAKE.search(q) and names - {"person", "speech", "text"}:
        return "when", not re.search(r"\bor\b", q)  # "is it still there or was it taken?" is no yes/no
    two = len(names) >= 2
    if two and (re.search(r"\bfirst\b.*\bor\b|\bor\b.*\bfirst\b|\bwhich (came|happened|was) (first|earlier|"
                          r"last|later)\b", q) or (polar and re.search(r"\b(before|after)\b", q))):
        return "order", polar
    if re.match(r"^(when|at what time|what time)\b", q) or re.search(r"\b(first|last) (seen|heard|appear)", q):
        return "when", False
    words = set(re.findall(r"[a-z]+", q))
    text_ask = re.match(r"^(what|which|read|(?:please )?(?:tell|show) me)\b", q)
    if text_ask and words & TEXT_WORDS and not words & {"sound", "sounds", "hear", "heard"}:
        return "what-text", False
    if re.search(rf"\bwhat (did|does|do|was|were|is)\b.*(?:{SPEECH_VERBS_RE}|\btalk\w*)|"
                 r"\bwhat was said\b|\bwho said\b", q):
        return "what-said", False
    if polar:
        return "yes-no", True
    if re.match(r"^(what|which|who|where|in which|in what)\b", q):
        return "what", False
    return None, polar


# "on the driveway camera", "from the back garden cam", "in the kitchen feed"
_SOURCE_PHRASE = re.compile(r"\b(?:on|from|at|in|by|of|for)\s+(?:the\s+|my\s+|our\s+)?((?:[a-z0-9][\w-]*\s+){0,2}?)"
                            r"(?:camera|cam|feed|stream|source|clip|video|recording|file)s?\b")


def find_sources(q: str, sources: Sequence[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
    """Sources a question names: ``(question without the phrase, matching source ids)``.

    ``sources`` are ``(id, uri)`` pairs; "on the driveway camera" matches every source whose id or
    uri contains "driveway" (each named word must occur). No match leaves the question as it is.
    """
    for m in _SOURCE_PHRASE.finditer(q):
        words = [w for w in m[1].split() if w not in _STOP]
        if not words:
            continue
        hits = tuple(sid for sid, uri in sources
                     if all(w in sid.lower() or w in uri.lower() for w in words))
        if hits:
            return " ".join((q[:m.start()] + " " + q[m.end():]).split()), hits
    return q, ()


def plan(question: str, vocabulary: Mapping[str, str] | None = None, source_id: str | None = None,
         reasoner: Reasoner | None = None, sources: Sequence[tuple[str, str]] = (),
         now: float | None = None) -> Query:
    """Plan ``question`` into a typed query.

    Args:
        question: the user's question.
        vocabulary: ``label -> kind`` of what the store holds (lower-case); lets questions name
            labels outside the built-in concepts ("tv", "chair").
        source_id: restrict the query to one source.
        reasoner: language model asked only when no rule finds an intent.
        sources: ``(id, uri)`` of the sources a question may name ("on the driveway camera").
        now: the clock for wall-clock ranges ("this morning"); ``None``: the system clock.

    Returns:
        The query (``intent`` is ``describe`` when nothing, not even the model, can tell).
    """
    q = " ".join(question.lower().replace("?", " ?").split()).replace(" ?", "?").strip()
    q = fix_typos(q)
    q, named = find_sources(q, sources) if source_id is None else (q, ())
    q, wall = find_wall_range(q, now)
    q = _follow_up(q, vocabulary or {})
    parts = _SPLIT.split(q, maxsplit=1)
    scope: dict[str, Any] = {"sources": named}
    if len(named) == 1:
        source_id = named[0]
    if wall is not None:
        scope.update(wall_since=wall.since, wall_until=wall.until, wall_phrase=wall.phrase)
    query = replace(_plan_one(parts[0], question, vocabulary or {}, source_id, reasoner), **scope)
    if len(parts) == 2:
        second = replace(_plan_one(parts[1], question, vocabulary or {}, source_id, reasoner), **scope)
        if not second.subjects and query.subjects and second.intent not in ("what-text", "what-said", "describe"):
            second = replace(second, subjects=query.subjects)
        query = replace(query, then=second)
    return query


def _follow_up(q: str, vocabulary: Mapping[str, str]) -> str:
    """Fold a short follow-up into its question: "did somebody ring the bell? who?" → "who did somebody ring …".

    The follow-up names no subject of its own, so it asks about the first question's; put in front,
    its question word decides the intent ("was there writing on the box? what did it say?" → what-text).
    """
    m = re.match(r"^(.+?)\?\s+((?:who|when|what|which|where|how)\b[^?]{0,40})\??$", q)
    if m is None or any(s.name not in ("speech", "text") for _, s, _ in _find_subjects(m[2], vocabulary)[0]):
        return q
    return f"{m[2].strip()} {m[1].strip()}?"


def _plan_one(q: str, question: str, vocabulary: Mapping[str, str], source_id: str | None,
              reasoner: Reasoner | None) -> Query:
    q, since, until, last = _window(q)
    found, rest = _find_subjects(q, vocabulary)
    sound_named = any("sound" in s.kinds for _, s, _ in found)
    intent, polar = _intent(q, {s.name for _, s, _ in found}, sound_named)
    planner = "rules"
    if intent is None and reasoner is not None:
        intent, extra_terms = _model_plan(q, reasoner)
        polar = polar or intent == "yes-no"
        planner = "model"
        known = {s.name for _, s, _ in found}
        for term in extra_terms:
            more, _ = _find_subjects(term.lower(), vocabulary)
            found.extend(m for m in more if m[1].name not in known)
            known.update(m[1].name for m in more)
    subjects = [s for _, s, _ in found]
    concepts = {s.name: c for _, s, c in found}
    if intent not in ("order",):
        # "when did the car honk" is about the horn; "what did the man say" about the speech
        owned = {c.owner for c in concepts.values() if c is not None and c.owner}
        heard = [s for s in subjects if set(s.kinds) & {"sound", "speech"}]
        if heard and len(subjects) > 1:
            subjects = [s for s in subjects if s.name not in owned]
    if intent in ("when", "duration", "attribute", "who") and len(subjects) > 1:
        # "when did somebody take the package" is about the package, the somebody is its agent
        named = [s for s in subjects if s.term not in _AGENTS]
        subjects = named or subjects
    moment: Moment = "first"
    if intent == "when":
        moment = "last" if (_LEAVE.search(q) or _TAKE.search(q)) and not _ARRIVE.search(q) else "first"
    if intent == "what-said" or any(s.name == "speech" for s in subjects):
        phrase = _speech_phrase(q)
        subjects = [replace(s, phrase=phrase) if s.name == "speech" else s for s in subjects]
        if intent == "what-said" and not any(s.name == "speech" for s in subjects):
            subjects = [Subject("said", "speech", ("speech",), (), phrase)]
        if phrase and any(s.name == "speech" for s in subjects):
            # "was music talked about?": words inside what was said are the phrase, not things to see or hear
            said = set(re.findall(r"[a-z]+", phrase))
            subjects = [s for s in subjects if s.name == "speech" or not set(s.term.split()) <= said]
    if intent == "what-text":
        text_terms = [s for s in subjects if s.name == "text"]
        carriers = {c.name: c for c in (carrier(t.term) for t in text_terms) if c is not None}
        objs = [s for s in subjects if s.name != "text" and "object" in s.kinds]
        carrier_names = {o.name for o in objs} | set(carriers)
        carrier_subjects = objs or [concept_subject(name, carriers[name]) for name in sorted(carriers)]
        subjects = [Subject("text", "text", ("text",))] + [s for s in carrier_subjects if s.name in carrier_names]
    if intent == "what" and not subjects:
        words = set(re.findall(r"[a-z]+", q))
        if words & {"hear", "heard", "sound", "sounds", "noise", "noises"}:
            subjects = [Subject("sounds", "sound", ("sound",))]
        elif words & {"see", "saw", "seen", "objects", "things"}:
            subjects = [Subject("objects", "object", ("object",))]
    detail = detail_of(q)
    relation: Literal["before", "after"] | None = None
    if intent == "order" and polar:
        relation = "before" if re.search(r"\bbefore\b", q) else "after"
    unresolved: tuple[str, ...] = ()
    if not subjects and intent in ("when", "yes-no", "count", "duration", "order", "what"):
        nouns = [w for w in re.findall(r"[a-z][a-z-]+", rest) if w not in _STOP and len(w) > 2]
        unresolved = tuple(nouns[:1])
        if not unresolved and (intent == "yes-no" or (planner == "model" and intent != "what")):
            intent = "describe"  # "anything going on?": nothing named to look for
    return Query(question=question, intent=intent or "describe", subjects=tuple(subjects), moment=moment,
                 since=since, until=until, source_id=source_id, polar=polar or intent == "yes-no", then=None,
                 relation=relation, detail=detail, last_seconds=last, planner=planner, unresolved=unresolved,
                 still=intent == "when" and polar and bool(re.search(r"\bstill (?:there|here)\b", q)))


_PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": list(INTENTS)},
        "subjects": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 40}},
    },
    "required": ["intent", "subjects"],
}


# One line per intent: measured on the paraphrase set, this list beats a bare enum (8/9 vs 6/9, 1.5B).
_INTENT_GLOSS = (
    "when: at what time did X happen", "yes-no: did X happen / was X there / if / whether / any X",
    "count: how many X", "duration: how long / how much time", "order: which came first",
    "what-text: words written or printed, label, sign, plate", "what-said: words spoken or said aloud",
    "what: which objects or sounds", "describe: summary of everything",
    "attribute: colour, direction, size or speed of X", "who: who did X / who was there",
    "unusual: anything strange or out of the ordinary",
)


def _model_plan(q: str, reasoner: Reasoner) -> tuple[Intent | None, list[str]]:
    """Ask the model for an intent and subject words; anything off-schema is ignored."""
    from scenewatch.reasoning.reasoners import Message

    messages = [
        Message("system", "You label questions about a video with an intent.\n" + "\n".join(_INTENT_GLOSS) +
                "\nReply with JSON: intent and subjects (the nouns asked about)."),
        Message("user", q[:300]),
    ]
    try:
        data = json.loads(reasoner.complete(messages, schema=_PLAN_SCHEMA, max_tokens=60))
    except Exception as exc:  # a model failure falls back to describe, never to an error
        log.warning("planner model fallback failed: %s", exc)
        return None, []
    intent = data.get("intent") if isinstance(data, dict) else None
    subjects = data.get("subjects", []) if isinstance(data, dict) else []
    if intent not in INTENTS:
        intent = None
    return cast(Intent | None, intent), [str(s) for s in subjects if isinstance(s, str)][:3]
