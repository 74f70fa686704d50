"""What can go wrong when the simulator drives a server from outside.

* SimError
  x HandshakeRefused: the server closed the socket (or refused the upgrade) instead of welcoming
  x ServerUnreachable: no WebSocket could be opened at all (nothing listening, a timeout)
  x TerminalClosed: the socket closed while a caller was waiting on it
  x CommandFailed: `command_ok` got a reply with ok:false
  x LoginFailed: an HTTP sign-in answered with an error

Timeouts are trio's own `trio.TooSlowError`: callers already know how to catch it, and a
simulator has no better word for "the server did not answer in time".
"""

from __future__ import annotations

from typing import Any


class SimError(Exception):
    """Root of every error the simulator raises on purpose."""


class HandshakeRefused(SimError):
    """The server would not let this terminal in; `code` is the WebSocket close code
    (1008 for a bad hello or token) or the HTTP status of a refused upgrade."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"handshake refused ({code}): {reason}")
        self.code = code
        self.reason = reason


class ServerUnreachable(SimError):
    """The WebSocket could not be opened: a network failure rather than a refusal."""


class TerminalClosed(SimError):
    """The socket is closed, so what the caller waited for will never come."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(f"the socket is closed ({code}): {reason or 'no reason given'}")
        self.code = code
        self.reason = reason


class CommandFailed(SimError):
    """A command answered ok:false; `error` is the reply's error object ({code, message, …})."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error
        self.code: str | None = error.get("code")


class LoginFailed(SimError):
    """An HTTP sign-in was refused; `error` is the body's error object when it had one."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"sign-in failed (HTTP {status}): {error.get('code')}: {error.get('message')}")
        self.status = status
        self.error = error
