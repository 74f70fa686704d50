"""What can go wrong in the venue bridge, as a small tree.

* BridgeError
  x BridgeConfigError: the TOML config has mistakes (each one named with its line) — exit 2
  x LinkError: the server link
    + Refused: the server closed the socket with 1008 (a bad or revoked bridge token)
    + LinkDown: the socket closed, or no reply came, while a command waited
  x CommandRejected: the server answered a command with ok:false (its stable code attached)
  x LayoutError: a job's document cannot be laid out on paper (a missing field, an unknown kind)
  x SpoolLocked: another bridge process has the spool file open

Device failures are `devices.DeviceError` and its subclasses: the dispatcher catches them at
the printer boundary and turns them into job states and device statuses, never into these.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BridgeConfigError", "BridgeError", "CommandRejected", "LayoutError", "LinkDown", "LinkError",
           "Refused", "SpoolLocked"]


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""


class BridgeConfigError(BridgeError):
    """The config file cannot be used; `problems` lists each mistake as `path:line: what`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the bridge config has mistakes:\n  " + "\n  ".join(problems))
        self.problems = problems


class LinkError(BridgeError):
    """The link to the server is not usable right now."""


class Refused(LinkError):
    """The server refused the hello (close 1008, e.g. `unauthenticated: unknown or revoked …`).

    Retrying quickly cannot help: a person must pair the bridge again with a new token.
    """

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"the server refused this bridge ({code}): {reason}")
        self.code = code
        self.reason = reason


class LinkDown(LinkError):
    """The socket went away (or stayed silent) before a command's reply came."""


class CommandRejected(BridgeError):
    """A command answered ok:false; `code` is the stable error code, `details` its details."""

    def __init__(self, name: str, error: dict[str, Any]) -> None:
        self.code = str(error.get("code", ""))
        self.details: dict[str, Any] = error.get("details") or {}
        super().__init__(f"{name}: {self.code}: {error.get('message', '')}")


class LayoutError(BridgeError):
    """A job's document does not have what its layout needs; the job is reported failed."""


class SpoolLocked(BridgeError):
    """Another bridge process holds the spool file: two bridges would print every job twice."""
