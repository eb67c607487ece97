"""Typed errors raised by scenewatch.

Every error a user can cause (bad input, bad config, a missing extra) is a
:class:`ScenewatchError`; the CLI prints its message as one line and exits non-zero.
"""

from __future__ import annotations


class ScenewatchError(Exception):
    """Base class for errors meant to be shown to a user as one line."""


class ConfigError(ScenewatchError):
    """The configuration is invalid (unknown key, bad value)."""


class SourceError(ScenewatchError):
    """A media source cannot be opened or decoded."""


class StreamDropped(SourceError):
    """A live stream stopped delivering data (it may come back)."""


class StoreError(ScenewatchError):
    """The timeline store cannot be opened, migrated or written."""


class BackendUnavailable(ScenewatchError):
    """A backend's optional dependency or model weights are missing.

    The message carries the install hint, e.g. ``pip install 'scenewatch[asr]'``.
    """


class ModelIntegrityError(ScenewatchError):
    """Model weights failed their pinned checksum."""


class UnknownBackend(ConfigError):
    """A registry was asked for a name it does not hold."""
