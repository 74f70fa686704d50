"""The bridge's TOML config: which printers, drawers and scanners the venue has, and where.

Read and checked once, before anything starts: every mistake is collected and reported with
its line, so an installer fixes the file in one go instead of one restart per typo. What is
only suspicious (a station no printer serves) is a warning, not a refusal. The result is
frozen and passed down; nothing else in the bridge reads the file or the environment.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bridge._config_check import check
from bridge._config_model import (
    DEFAULT_SPOOL,
    KNOWN_STATIONS,
    BridgeConfig,
    DrawerConfig,
    PrinterConfig,
    ScannerConfig,
    Timing,
)
from bridge._tomlpos import KeyLines
from bridge.errors import BridgeConfigError

__all__ = ["DEFAULT_SPOOL", "KNOWN_STATIONS", "BridgeConfig", "DrawerConfig", "PrinterConfig", "ScannerConfig",
           "Timing", "load_config", "parse_config"]


def load_config(path: Path) -> BridgeConfig:
    """Read and check `path`.

    Raises:
        BridgeConfigError: the file is missing, unreadable, not TOML, or has mistakes.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BridgeConfigError([f"{path}: cannot read it: {exc}"]) from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "bridge.toml") -> BridgeConfig:
    """Check a config's text (see `load_config`); `source` names it in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        raise BridgeConfigError([f"{source}:{at.group(1) if at else '?'}: not valid TOML: {exc}"]) from None
    return check(data, KeyLines(text), source)
