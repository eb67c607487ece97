"""The ``none`` reasoner: no language model; answers are the code-written drafts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scenewatch.reasoning.reasoners import Message
from scenewatch.reasoning.settings import ReasonerSettings


class NoReasoner:
    """Always declines, so planning uses rules only and answers use code-written sentences."""

    name = "none"
    accepts_images = False

    def __init__(self, settings: ReasonerSettings | None = None) -> None:
        self.settings = settings

    def complete(self, messages: Sequence[Message], schema: Mapping[str, Any] | None = None,
                 max_tokens: int | None = None, images: Sequence[NDArray[np.uint8]] = ()) -> str:
        """Raise: there is no model to ask."""
        raise NotImplementedError("the 'none' reasoner has no model")

    def close(self) -> None:
        """Nothing to release."""
