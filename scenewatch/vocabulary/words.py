"""The shared word lists: one copy each, read by phrasing rules, the planner and search.

- :data:`TEXT_WORDS`: words that say "written text" (a sign, a label, a plate…).
- :data:`SPEECH_VERBS`: verbs that introduce something spoken ("says", "shouted"…).
- :data:`STOPWORDS`: function words that say nothing about *what* happened (search drops them).
- :data:`QUESTION_FILLER`: words of questions that name no subject ("see", "video", "happened"…).
"""

from __future__ import annotations

import re

TEXT_WORDS: frozenset[str] = frozenset({
    "text", "label", "labels", "sign", "signs", "written", "writing", "plate", "license", "whiteboard", "board",
    "note", "screen", "reads", "read", "reading", "inscription", "banner", "poster", "printed", "caption",
    "sticker", "stickers",
})

SPEECH_VERBS: tuple[str, ...] = (
    "say", "says", "said", "saying", "shout", "shouts", "shouted", "shouting", "yell", "yells", "yelled",
    "yelling", "scream", "screams", "screamed", "screaming", "call out", "calls out", "called out", "ask", "asks",
    "asked", "mention", "mentions", "mentioned", "speak", "speaks", "spoke", "utter", "utters", "uttered",
    "whisper", "whispers", "whispered", "talk", "talks", "talked",
)

STOPWORDS: frozenset[str] = frozenset((  # noqa: SIM905 - a paragraph reads better than a list
    "a an and are as at be been but by can did do does for from had has have he her his how i if in "
    "into is it its me my of on or our she so that the their them then there these they this to "
    "was we were what when where which while who why will with you your any anyone anything "
    "someone something somebody show find me please"
).split())

QUESTION_FILLER: frozenset[str] = frozenset((  # noqa: SIM905
    "some see seen saw hear heard many much long come came first last happen happened appear appeared time "
    "video scene camera today ever thing things object objects odd unusual going near happening sound sounds "
    "visible present here around after before between seconds second minutes minute s start end stay stayed"
).split())


def words_pattern(words: tuple[str, ...] | frozenset[str]) -> str:
    """A regex alternation of ``words``, longest first, each matched as a whole word."""
    return r"\b(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True)) \
        + r")\b"


#: Regex alternations built once from the lists above.
TEXT_WORDS_RE = words_pattern(TEXT_WORDS)
SPEECH_VERBS_RE = words_pattern(SPEECH_VERBS)
