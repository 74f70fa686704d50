"""ESC/POS: the document model, its encoder (python-escpos), status parsing, the printer driver."""

from .doc import QR as QR
from .doc import Align as Align
from .doc import Block as Block
from .doc import Cut as Cut
from .doc import Doc as Doc
from .doc import DrawerKick as DrawerKick
from .doc import Feed as Feed
from .doc import Row as Row
from .doc import Rule as Rule
from .doc import Text as Text
from .encode import CODE_PAGE as CODE_PAGE
from .encode import encode as encode
from .printer import Printer as Printer
from .status import PrinterStatus as PrinterStatus
from .status import parse_status as parse_status
from .status import status_request as status_request

__all__ = ["CODE_PAGE", "QR", "Align", "Block", "Cut", "Doc", "DrawerKick", "Feed", "Printer",
           "PrinterStatus", "Row", "Rule", "Text", "encode", "parse_status", "status_request"]
