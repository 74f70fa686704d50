"""Byte pipes to devices: TCP (Trio sockets), serial (pyserial) and USB (pyusb).

All three follow ``Transport`` and raise only ``devices.errors`` exceptions.
"""

from .base import Transport as Transport
from .serial import SerialTransport as SerialTransport
from .tcp import TcpTransport as TcpTransport
from .usb import UsbTransport as UsbTransport

__all__ = ["SerialTransport", "TcpTransport", "Transport", "UsbTransport"]
