"""Prometheus text exposition of request counts/latency and per-source worker status (no dependency)."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counters, updated by the app's middleware."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        with self._lock:
            self.requests[(method, route, status)] += 1
            self.seconds[(method, route)] += seconds

    def render(self, sources: list[dict[str, Any]], counts: dict[str, int]) -> str:
        """The exposition text."""
        lines = ["# HELP scenewatch_http_requests_total HTTP requests by route and status.",
                 "# TYPE scenewatch_http_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f'scenewatch_http_requests_total{{method="{method}",route="{_esc(route)}",'
                             f'status="{status}"}} {n}')
            lines += ["# HELP scenewatch_http_request_seconds_total Time spent answering, by route.",
                      "# TYPE scenewatch_http_request_seconds_total counter"]
            for (method, route), s in sorted(self.seconds.items()):
                lines.append(f'scenewatch_http_request_seconds_total{{method="{method}",route="{_esc(route)}"}} '
                             f"{s:.6f}")
        gauges = {"media_seconds": "media_time", "keyframes_per_second": "fps", "speed": "speed",
                  "lag_seconds": "lag", "reconnects_total": "reconnects", "observations": "observations",
                  "dropped_keyframes": "dropped"}
        for name, key in gauges.items():
            lines += [f"# TYPE scenewatch_source_{name} gauge"]
            for src in sources:
                value = src.get(key)
                if value is not None:
                    labels = f'uri="{_esc(src["uri"])}",state="{src["state"]}"'
                    lines.append(f"scenewatch_source_{name}{{{labels}}} {value}")
        lines += ["# TYPE scenewatch_rows gauge"]
        lines += [f'scenewatch_rows{{table="{t}"}} {n}' for t, n in sorted(counts.items())]
        return "\n".join(lines) + "\n"
