"""Lay a document out for a paper width and turn it into ESC/POS bytes.

python-escpos's ``Dummy`` printer is the encoder: it collects exactly the bytes its real
printers would write, so our transports only ever carry bytes a maintained library produced.
Layout (wrapping, columns, rules) is ours, because it depends on the paper width we know and
python-escpos's profile does not.

Text goes out in code page CP858 (ESC t 19: CP850 plus the euro sign), so "£" and "€" both
print. Magic encoding is switched off on purpose: left alone it hops between code pages per
character (it picks ISO-8859-7 for "€"), which many printers lack. A character CP858 cannot
show prints as "?", and control characters in the text (a menu name with an ESC in it) print
as "?" too, so user data can never smuggle commands onto the wire.
"""

from __future__ import annotations

import textwrap

from escpos.printer import Dummy

from .doc import QR, Cut, Doc, DrawerKick, Feed, Row, Rule, Text

__all__ = ["CODE_PAGE", "MIN_WIDTH", "encode"]

CODE_PAGE = "CP858"
MIN_WIDTH = 16
# Module size for QR codes in dots: 6 fills a fair part of 80 mm paper (576 dots) with a
# receipt URL; 58 mm paper (384 dots) needs 4 to keep the same code on the page.
_QR_DOTS_WIDE, _QR_DOTS_NARROW, _WIDE_PAPER = 6, 4, 42


def encode(doc: Doc, width_chars: int) -> bytes:
    """Return the ESC/POS bytes that print ``doc`` on paper ``width_chars`` columns wide.

    32 columns is 58 mm paper, 48 is 80 mm (font A). Every document starts with ESC @ and
    the code page, so it prints the same whatever the printer was left in.

    Raises:
        ValueError: ``width_chars`` is below ``MIN_WIDTH``.
    """
    if width_chars < MIN_WIDTH:
        raise ValueError(f"paper width must be at least {MIN_WIDTH} characters, not {width_chars}")
    out = Dummy()
    out.hw("INIT")
    out.magic.force_encoding(CODE_PAGE)
    for block in doc:
        _emit(out, block, width_chars)
    return out.output


def _emit(out: Dummy, block: object, width: int) -> None:
    match block:
        case Text(text=text, bold=bold, double=double, align=align):
            out.set(align=align, bold=bold, double_width=double, double_height=double,
                    normal_textsize=not double)
            for line in _wrap(text, width // 2 if double else width):
                out.textln(line)
            out.set(align="left", bold=False, normal_textsize=True)
        case Row(left=left, right=right, bold=bold):
            out.set(bold=bold)
            out.textln(_row(left, right, width))
            out.set(bold=False)
        case Rule():
            out.textln("-" * width)
        case QR(data=data):
            out.set(align="center")
            dots = _QR_DOTS_WIDE if width >= _WIDE_PAPER else _QR_DOTS_NARROW
            out.qr(data, native=True, size=dots)
            out.set(align="left")
        case Feed(n=n):
            if n:
                out.print_and_feed(n)
        case Cut():
            out.cut()
        case DrawerKick(pin=pin):
            out.cashdraw(pin)
        case _:
            raise TypeError(f"not a document block: {block!r}")


def _printable(text: str) -> str:
    """One line of text with tabs as spaces and every other control character as '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text.replace("\t", " "))


def _wrap(text: str, cols: int) -> list[str]:
    """Split on newlines, then wrap each paragraph at word boundaries, breaking long words.

    A paragraph that fits is kept exactly (spaces included); an empty one is a blank line.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        paragraph = _printable(paragraph)
        if len(paragraph) <= cols:
            lines.append(paragraph)
        else:
            lines.extend(textwrap.wrap(paragraph, cols, break_on_hyphens=False) or [""])
    return lines


def _row(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` padded to exactly ``width``, at least one space between them."""
    left, right = _printable(left.replace("\n", " ")), _printable(right.replace("\n", " "))
    right = right[:width]
    room = width - len(right) - 1
    if room <= 0:
        return right.rjust(width)
    left = left[:room]
    return left + " " * (width - len(left) - len(right)) + right
