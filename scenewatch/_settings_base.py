"""Base class for every config section: unknown keys are errors, not silent defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section; ``extra="forbid"`` turns a typo into an error naming the key."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
