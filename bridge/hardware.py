"""The venue's devices, built from the config: printers and scanners on their transports.

The one place that knows which ``devices`` class a ``tcp://``, ``serial://``, ``socket://``,
``usb://`` or ``usb-hid://`` address means. Tests pass their own printers and transports to ``Bridge`` instead.
"""

from __future__ import annotations

import logging

import trio

from bridge._config_model import BridgeConfig, ScannerConfig, Timing
from bridge.reports import DeviceReport, Reports
from bridge.transport_url import TransportSpec
from devices import (
    DeviceError,
    HidScanner,
    Printer,
    Scanner,
    SerialTransport,
    TcpTransport,
    Transport,
    UsbTransport,
)

__all__ = ["make_printers", "make_transport", "watch_scanner"]

log = logging.getLogger("fynlo.bridge.hardware")


def make_transport(spec: TransportSpec, timing: Timing) -> Transport:
    """A transport for a device address; every write is bounded by ``print_timeout``."""
    if spec.kind == "tcp":
        return TcpTransport(spec.host, spec.port, write_timeout=timing.print_timeout)
    if spec.kind == "serial":
        return SerialTransport(spec.device, spec.baud, write_timeout=timing.print_timeout)
    if spec.kind == "socket":   # serial over the LAN: pyserial opens socket://host:port itself
        return SerialTransport(spec.url, spec.baud, write_timeout=timing.print_timeout)
    if spec.kind == "usb-hid":  # a keyboard-wedge scanner: boot keyboards report on IN endpoint 1
        return UsbTransport(spec.vendor_id, spec.product_id, in_ep=0x81)
    return UsbTransport(spec.vendor_id, spec.product_id, timeout=timing.print_timeout)


def make_printers(config: BridgeConfig) -> dict[str, Printer]:
    return {p.name: Printer(make_transport(p.transport, config.timing), p.chars) for p in config.printers}


async def watch_scanner(scanner: ScannerConfig, transport: Transport, reports: Reports, timing: Timing) -> None:
    """Read barcodes for ever and pass each clean one on as a scan for the paired terminal.

    A ``usb-hid://`` scanner's transport carries keyboard reports, decoded by
    ``devices.HidScanner``; any other carries lines, read by ``devices.Scanner``. Noise (a
    glitching cable, a half-read code) is dropped by either; a scanner that cannot be opened
    or goes away is reported offline and opened again after a pause that grows from
    ``retry_min`` to ``retry_max``.
    """
    pause = timing.retry_min
    while True:
        try:
            hid = scanner.transport.kind == "usb-hid"
            async with HidScanner(transport) if hid else Scanner(transport) as codes:
                reports.device(DeviceReport(scanner.name, "scanner", "online"))
                pause = timing.retry_min
                async for code in codes:
                    log.info("scan %s on %s", code, scanner.name)
                    reports.scan(scanner.name, code, scanner.terminal_id)
        except DeviceError as exc:
            reports.device(DeviceReport(scanner.name, "scanner", "offline", str(exc)))
        await trio.sleep(pause)
        pause = min(pause * 2, timing.retry_max)
