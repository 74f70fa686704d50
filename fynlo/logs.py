"""Structured JSON logs on stdout, each line carrying the command it belongs to.

Secrets never reach a log line because nothing logs them: handlers log ids and codes, and the
formatter only copies the fields named in `_CONTEXT` plus whatever `extra=` a caller gives.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

from fynlo.wire import encode

_command: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("fynlo_command", default=None)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@contextmanager
def command_context(command_id: str, name: str, venue_id: str, staff_id: str | None) -> Iterator[None]:
    token = _command.set({"command_id": command_id, "command": name, "venue_id": venue_id, "staff_id": staff_id})
    try:
        yield
    finally:
        _command.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = _command.get()
        if context:
            out.update(context)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return encode(out)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("hypercorn.access", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
