"""The reasoning core: plan → retrieve → read, guarded; event summaries and reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scenewatch.reasoning.reasoners import Reasoner
    from scenewatch.reasoning.settings import ReasonerSettings


def build_reasoner(settings: ReasonerSettings) -> Reasoner | None:
    """The configured reasoner, or ``None`` for the ``none`` backend (rules and code only).

    Raises:
        BackendUnavailable: its dependency or weights are missing (the message has the install line).
    """
    from scenewatch.reasoning.reasoners import REASONERS

    if settings.backend == "none":
        return None
    return REASONERS.get(settings.backend)(settings)  # type: ignore[call-arg]
