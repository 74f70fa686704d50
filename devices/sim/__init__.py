"""Simulated devices that speak the real wire protocols, for tests and the demo venue.

``python -m devices.sim --help`` runs one on its own.
"""

from .decoder import EscposDecoder as EscposDecoder
from .decoder import Line as Line
from .model import CUT_LINE as CUT_LINE
from .model import PrinterModel as PrinterModel
from .printer import PrinterSimulator as PrinterSimulator
from .scanner import ScannerSimulator as ScannerSimulator
from .serial_printer import SerialPrinterSimulator as SerialPrinterSimulator

__all__ = ["CUT_LINE", "EscposDecoder", "Line", "PrinterModel", "PrinterSimulator",
           "ScannerSimulator", "SerialPrinterSimulator"]
