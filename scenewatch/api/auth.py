"""Authentication: admin login → session cookie, API tokens for scripts, login rate limit.

Sessions are random 256-bit ids held in memory (a restart logs everyone out). API tokens are
stored hashed by :mod:`scenewatch.runtime.queries` and compared in constant time. A client
that fails ``login_attempts`` logins within ``login_window`` seconds is refused (429) until
the window has passed.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from scenewatch.api.settings import ServeSettings
from scenewatch.runtime import queries
from scenewatch.runtime.queries import TimelineStore

SESSION_COOKIE = "scenewatch_session"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the admin (session), a token, or anyone when auth is off."""

    kind: str  # "session" | "token" | "anonymous"
    token_id: int | None = None


class LoginRateLimited(Exception):
    """Too many failed logins from one client."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class Authenticator:
    """Checks passwords, sessions and tokens for one server.

    Args:
        settings: the ``serve`` settings (auth on/off, session length, rate limit).
        store: the store holding the password hash and API tokens.
    """

    def __init__(self, settings: ServeSettings, store: TimelineStore) -> None:
        self.settings = settings
        self.store = store
        self._sessions: dict[str, float] = {}
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether requests must authenticate."""
        return self.settings.auth

    def login(self, password: str, client: str) -> str | None:
        """A new session id for the right password, ``None`` for a wrong one.

        Raises:
            LoginRateLimited: this client failed too often recently.
        """
        now = time.monotonic()
        with self._lock:
            fails = self._failures.setdefault(client, deque())
            while fails and now - fails[0] > self.settings.login_window:
                fails.popleft()
            if len(fails) >= self.settings.login_attempts:
                raise LoginRateLimited(self.settings.login_window - (now - fails[0]))
        if not queries.verify_admin_password(self.store, password):
            with self._lock:
                self._failures[client].append(now)
            return None
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._failures.pop(client, None)
            self._sessions[session] = time.time() + self.settings.session_hours * 3600
            if len(self._sessions) > 10_000:  # bounded: drop expired sessions
                cutoff = time.time()
                self._sessions = {k: v for k, v in self._sessions.items() if v > cutoff}
        return session

    def logout(self, session: str) -> None:
        """End a session."""
        with self._lock:
            self._sessions.pop(session, None)

    def check(self, session: str | None, authorization: str | None) -> Principal | None:
        """The principal of a request's cookie or ``Authorization: Bearer`` header, else ``None``."""
        if not self.enabled:
            return Principal("anonymous")
        if session:
            with self._lock:
                expires = self._sessions.get(session)
            if expires is not None and expires > time.time():
                return Principal("session")
        if authorization and authorization[:7].lower() == "bearer ":
            token_id = queries.verify_token(self.store, authorization[7:].strip())
            if token_id is not None:
                return Principal("token", token_id)
        return None
