"""QR codes for the customer's payment page, drawn as SVG so any screen or browser can show them."""

from __future__ import annotations

from functools import lru_cache
from itertools import groupby

import qrcode
from qrcode.constants import ERROR_CORRECT_M

__all__ = ["qr_modules", "qr_svg"]

QUIET_ZONE = 4  # modules of light margin on each side: the minimum the QR standard asks scanners for


def qr_modules(data: str) -> list[list[bool]]:
    """The code's modules, row by row, quiet zone included (True is dark).

    Error correction M survives a smudged or glare-struck display without a dense code; the
    mask is the one of the eight the standard's penalty rules prefer.
    """
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


@lru_cache(maxsize=64)
def qr_svg(data: str) -> str:
    """`data` (a payment page URL) as a standalone SVG document, deterministic for equal input.

    One path, a rectangle per run of dark modules in a row, on a white background, so the
    quiet zone stays light on a dark-themed screen. Written here rather than by qrcode's SVG
    image factories, which place every module through an XML tree: three times the time of
    the code itself. Drawing one still takes milliseconds of CPU, so the latest are kept: a
    payment's reply, its record and a retry's reply draw it once.
    """
    modules = qr_modules(data)
    size = len(modules)
    runs = []
    for y, row in enumerate(modules):
        x = 0
        for dark, group in groupby(row):
            length = sum(1 for _ in group)
            if dark:
                runs.append(f"M{x},{y}h{length}v1h-{length}z")
            x += length
    return (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{size}mm" height="{size}mm"'
            f' viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
            f'<rect width="100%" height="100%" fill="white"/><path d="{"".join(runs)}" fill="black"/></svg>')
