"""Venue hardware: receipt printers, cash drawers and barcode scanners, and their simulators.

This package imports only the standard library, Trio and the device libraries
(python-escpos, pyserial, pyusb): nothing of ``fynlo`` or ``bridge``. The bridge uses it
through the names below; everything else is private.

Laying out and printing::

    printer = Printer(TcpTransport("10.0.0.31", 9100), width_chars=48)   # 80 mm; 58 mm = 32
    await printer.print([
        Text("ORDER 42", bold=True, double=True, align="center"),
        Row("2 x Burger", "£25.00"), Rule(), QR("https://r.example/42"), Cut(),
    ])
    await printer.kick_drawer(2)
    status = await printer.status()      # PrinterStatus; status.summary -> "online", ...

``Printer(transport, width_chars=48, *, status_timeout=1.0)`` works over any ``Transport``:
``TcpTransport(host, port=9100, *, connect_timeout=3.0, write_timeout=10.0)``,
``SerialTransport(url_or_path, baudrate=9600, *, write_timeout=10.0)`` (a device path or a
pyserial URL such as ``socket://host:port``) or ``UsbTransport(vendor_id, product_id, *,
out_ep=0x01, in_ep=0x82, interface=0, timeout=10.0, backend=None)``. Each operation opens
the transport and closes it again.

Failures are ``DeviceError`` subclasses (``errors``): ``DeviceOffline``, ``DeviceTimeout``,
``DeviceProtocolError``, ``PaperOut``, ``CoverOpen``. ``exc.maybe_sent`` is ``False`` when
nothing of the job left us (send it elsewhere as an original) and ``True`` when some of it
may be on paper (its outcome is unknown: reprint only as a COPY). ``Printer.status()``
raises only ``DeviceOffline``; what the printer does not answer is ``None`` (unknown).

Scanning::

    async with Scanner(SerialTransport("socket://10.0.0.40:4001")) as scanner:
        async for code in scanner:       # noise is dropped and counted in scanner.dropped
            ...

USB scanners that act as keyboards ("keyboard wedge") send HID reports instead of lines:
``HidScanner(UsbTransport(vendor_id, product_id, in_ep=0x81), max_length=128)`` decodes them
(US layout, one code per Enter) and is used the same way.

Simulators (``devices.sim``) speak the same wire: ``PrinterSimulator`` (TCP),
``SerialPrinterSimulator`` (pseudo-terminal), ``ScannerSimulator`` (``socket://``).
"""

from .errors import CoverOpen as CoverOpen
from .errors import DeviceError as DeviceError
from .errors import DeviceOffline as DeviceOffline
from .errors import DeviceProtocolError as DeviceProtocolError
from .errors import DeviceTimeout as DeviceTimeout
from .errors import PaperOut as PaperOut
from .escpos import QR as QR
from .escpos import Cut as Cut
from .escpos import Doc as Doc
from .escpos import DrawerKick as DrawerKick
from .escpos import Feed as Feed
from .escpos import Printer as Printer
from .escpos import PrinterStatus as PrinterStatus
from .escpos import Row as Row
from .escpos import Rule as Rule
from .escpos import Text as Text
from .escpos import encode as encode
from .hid_scanner import HidScanner as HidScanner
from .scanner import Scanner as Scanner
from .transports import SerialTransport as SerialTransport
from .transports import TcpTransport as TcpTransport
from .transports import Transport as Transport
from .transports import UsbTransport as UsbTransport

__all__ = [
    "QR", "CoverOpen", "Cut", "DeviceError", "DeviceOffline", "DeviceProtocolError",
    "DeviceTimeout", "Doc", "DrawerKick", "Feed", "HidScanner", "PaperOut", "Printer", "PrinterStatus",
    "Row", "Rule", "Scanner", "SerialTransport", "TcpTransport", "Text", "Transport",
    "UsbTransport", "encode",
]
