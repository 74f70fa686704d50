"""Where a key sits in a TOML file, so a semantic mistake can name its line.

tomllib reports positions for syntax errors only; what it parses carries none. A config file
is small and plain (top-level keys, `[table]`s and `[[array]]`s of flat tables), so one pass
over its lines finds each key's line well enough. Keys it cannot place (inline tables, keys
inside multi-line strings) fall back to their table's header line, then to no line at all.
"""

from __future__ import annotations

import re

__all__ = ["KeyLines"]

Path = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


class KeyLines:
    """Line numbers (1-based) of tables and keys: `line(("printers", 1, "backup"))`."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        counts: dict[str, int] = {}
        table: Path = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                name = header.group(2).strip().strip("\"'")
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    table = (name, index)
                else:
                    table = (name,)
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self._lines.setdefault((*table, key.group(1).strip('"')), number)

    def line(self, path: Path) -> int | None:
        """The line of `path`, else of the nearest enclosing table that has one, else None."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None
