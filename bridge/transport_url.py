"""Device addresses as written in the config: `tcp://`, `serial://`, `socket://`, `usb://`,
and `usb-hid://` for a scanner that acts as a USB keyboard.

Parsed once, when the config is read, so a typo stops the bridge before it starts rather
than when the first ticket needs that printer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

__all__ = ["TransportSpec", "parse_transport"]

Kind = Literal["tcp", "serial", "socket", "usb", "usb-hid"]
DEFAULT_TCP_PORT = 9100          # raw ESC/POS over the network ("JetDirect")
DEFAULT_BAUD = 19200             # what most serial receipt printers ship set to
_BAUDS = frozenset({1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200})
EXAMPLES = "tcp://host:9100, serial:///dev/ttyUSB0?baud=19200, socket://host:port, usb://04b8:0202 or usb-hid://0c2e:0b61"


@dataclass(frozen=True, slots=True)
class TransportSpec:
    """Where a device is. `url` is kept as written, for messages and for pyserial's socket://."""

    kind: Kind
    url: str
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = DEFAULT_BAUD
    vendor_id: int = 0
    product_id: int = 0


def parse_transport(url: str) -> TransportSpec:
    """Parse one device address.

    Raises:
        ValueError: with a message saying what is wrong and what a good address looks like.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("tcp", "socket"):
        if not parts.hostname:
            raise ValueError(f"{url!r} has no host: write {scheme}://host:port")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{url!r} has a bad port (1 to 65535)") from None
        if port is None and scheme == "socket":
            raise ValueError(f"{url!r} needs a port: socket://host:port")
        kind: Kind = "tcp" if scheme == "tcp" else "socket"
        return TransportSpec(kind=kind, url=url, host=parts.hostname, port=port or DEFAULT_TCP_PORT)
    if scheme == "serial":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"{url!r} must name a device path: serial:///dev/ttyUSB0?baud=19200")
        return TransportSpec(kind="serial", url=url, device=parts.path, baud=_baud(url, parts.query))
    if scheme in ("usb", "usb-hid"):
        return _usb(url, scheme, parts.netloc or parts.path)
    raise ValueError(f"{url!r} is not a device address I know: use {EXAMPLES}")


def _baud(url: str, query: str) -> int:
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"baud"})
    if unknown:
        raise ValueError(f"{url!r}: unknown option {unknown[0]!r} (only baud=…)")
    if "baud" not in params:
        return DEFAULT_BAUD
    raw = params["baud"][-1]
    if not raw.isdigit() or int(raw) not in _BAUDS:
        raise ValueError(f"{url!r}: baud must be one of {', '.join(map(str, sorted(_BAUDS)))}")
    return int(raw)


def _usb(url: str, scheme: Kind, ids: str) -> TransportSpec:
    vid, _, pid = ids.partition(":")
    try:
        vendor, product = int(vid, 16), int(pid, 16)
    except ValueError:
        example = "usb://04b8:0202" if scheme == "usb" else "usb-hid://0c2e:0b61"
        raise ValueError(f"{url!r} must be {scheme}://VID:PID in hex, e.g. {example}") from None
    if not (0 <= vendor <= 0xFFFF and 0 <= product <= 0xFFFF):
        raise ValueError(f"{url!r}: vendor and product ids are 4 hex digits each")
    return TransportSpec(kind=scheme, url=url, vendor_id=vendor, product_id=product)
