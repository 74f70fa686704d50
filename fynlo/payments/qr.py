"""QR codes for the customer's payment page, drawn as SVG so any screen or browser can show them."""

from __future__ import annotations

from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.svg import SvgPathFillImage

__all__ = ["qr_svg"]

QUIET_ZONE = 4  # modules of light margin on each side: the minimum the QR standard asks scanners for


@lru_cache(maxsize=64)
def qr_svg(data: str) -> str:
    """`data` (a payment page URL) as a standalone SVG document, deterministic for equal input.

    Drawing one takes milliseconds of CPU, so the latest are kept: a payment's reply, its
    record and a retry's reply draw it once.

    One path on a white background, so the quiet zone stays light on a dark-themed screen.
    Error correction M survives a smudged or glare-struck display without a dense code.
    """
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, image_factory=SvgPathFillImage)
    code.add_data(data)
    code.make(fit=True)
    image = code.make_image()
    svg: str = image.to_string(encoding="unicode")
    return svg
