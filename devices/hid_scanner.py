"""Barcode scanners that type: USB HID keyboards ("keyboard wedge"), read as raw reports.

Most USB scanners enumerate as a boot keyboard and "type" each code followed by Enter. Left
to the operating system those keystrokes land in whatever window has focus, so the bridge
takes the interface from the kernel (``UsbTransport`` detaches its driver) and decodes the
8-byte boot-keyboard input reports itself: byte 0 the modifiers, bytes 2–7 the usage codes of
the keys held down, all zeros when every key is up.

A report lists the keys *held*, so a key is typed when it first appears; the same key in the
next report is a repeat (or a scanner that reports twice) and types nothing until a report
without it. A code holding a key this US-layout table does not know is noise: dropped and
counted in ``dropped``, never raised, as with the serial ``Scanner``.
"""

from __future__ import annotations

from .scanner import Scanner
from .transports.base import Transport

__all__ = ["HidScanner"]

REPORT_SIZE = 8                      # a boot-keyboard input report, the one size to ask for
SHIFT = 0x02 | 0x20                  # left or right shift in the modifier byte
ENTER = frozenset({0x28, 0x58})      # Return, and keypad Enter (some scanners send that)

# Usage code (HID usage table, keyboard page) → (unshifted, shifted) on a US layout.
US_KEYS: dict[int, tuple[str, str]] = {
    **{0x04 + i: (c, c.upper()) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")},
    **{0x1E + i: pair for i, pair in enumerate(zip("1234567890", "!@#$%^&*()"))},
    0x2C: (" ", " "), 0x2D: ("-", "_"), 0x2E: ("=", "+"), 0x2F: ("[", "{"), 0x30: ("]", "}"),
    0x31: ("\\", "|"), 0x33: (";", ":"), 0x34: ("'", '"'), 0x35: ("`", "~"), 0x36: (",", "<"),
    0x37: (".", ">"), 0x38: ("/", "?"),
    # The keypad (scanners set to "numeric keypad" mode); shift does not change it.
    **{0x54 + i: (c, c) for i, c in enumerate("/*-+")},
    **{0x59 + i: (c, c) for i, c in enumerate("1234567890.")},
}


class HidScanner(Scanner):
    """``async for code in HidScanner(transport)`` yields each clean barcode as a string.

    ``transport`` is the scanner's interrupt IN endpoint, usually
    ``UsbTransport(vendor_id, product_id, in_ep=0x81)``; it is read one report at a time,
    because a boot keyboard's reports fill whole packets and a longer read would wait for
    more. A clean barcode is the keys typed before Enter, surrounding spaces trimmed, at
    most ``max_length`` characters; anything else (an unknown key, an empty or overlong
    code, a report of the wrong size) is noise.

    The transport is opened on first use (or by ``async with``) and closed by ``aclose``,
    on leaving the ``async with``, or when the link fails.

    Raises (from iteration):
        DeviceOffline: the scanner cannot be opened or was unplugged.
    """

    read_size = REPORT_SIZE  # exactly one report: a longer read waits for more packets and loses some

    def __init__(self, transport: Transport, *, max_length: int = 128) -> None:
        super().__init__(transport, max_length=max_length)
        self._noisy = False
        self._held: frozenset[int] = frozenset()
        self._typed: list[str] = []

    def _take(self, report: bytes) -> None:
        if len(report) != REPORT_SIZE:
            self._noisy = True
            return
        held = [usage for usage in report[2:] if usage]
        shifted = bool(report[0] & SHIFT)
        for usage in held:
            if usage not in self._held:
                self._press(usage, shifted)
        self._held = frozenset(held)

    def _press(self, usage: int, shifted: bool) -> None:
        if usage in ENTER:
            self._end_code()
        elif usage not in US_KEYS or len(self._typed) >= self.max_length:
            self._noisy = True
        else:
            self._typed.append(US_KEYS[usage][shifted])

    def _end_code(self) -> None:
        code, noisy = "".join(self._typed).strip(" "), self._noisy
        self._typed.clear()
        self._noisy = False
        if noisy or not code:
            self.dropped += 1
        else:
            self._codes.append(code)
