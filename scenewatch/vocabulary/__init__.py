"""The one place a word gets its meaning: concepts, shared word lists, the AudioSet ontology, time phrases.

Watching (``perception``), triggering (``triggers``) and asking (``reasoning``) all resolve a phrase
through :func:`scenewatch.vocabulary.concepts.resolve`, so a word means the same thing to each.
This package depends only on ``types``/``errors``/stdlib/numpy and never loads a model.
"""
