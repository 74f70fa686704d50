"""An ESC/POS decoder: the bytes a printer receives, back into lines of text and events.

No maintained Python ESC/POS emulator exists (research/stack-probe.md §5), so this is a
small one covering what receipt printing uses: ESC @ E a ! t d p - M G 2 3 J, GS ! V B h w H
f L W, GS ( k (QR), GS k (barcodes), GS v 0 (raster images), DLE EOT and DLE DC4, LF and CR.
It is sans-IO: ``feed`` takes bytes in any chunks (a command split across two TCP reads is
held until it completes) and returns what happened.

Markers stand in for what is not text, each on a line of its own: ``[QR data]``,
``[BARCODE data]``, ``[IMAGE]``. Style is not written into the text; each ``Line`` carries
``bold``, ``double`` and ``align`` instead, so the text stays exactly what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["CODE_PAGES", "DrawerPulse", "EscposDecoder", "Event", "Line", "PaperCut", "StatusQuery"]

ESC, GS, DLE, LF, CR = 0x1B, 0x1D, 0x10, 0x0A, 0x0D
# ESC t numbers of the Epson tables we can decode; any other prints high bytes as "?".
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252",
              17: "cp866", 18: "cp852", 19: "cp858", 40: "iso8859_15"}
# Parameter byte counts of the fixed-length commands that need no handling beyond skipping.
_ESC_SKIP = {ord(c): n for c, n in {"-": 1, "M": 1, "G": 1, "2": 0, "3": 1, "J": 1, "V": 1,
                                       "{": 1, "R": 1, "r": 1, " ": 1, "U": 1, "c": 2}.items()}
_GS_SKIP = {ord(c): n for c, n in {"B": 1, "h": 1, "w": 1, "H": 1, "f": 1, "L": 2, "W": 2,
                                      "b": 1, "a": 1, "r": 1}.items()}
_ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line, with the style it started in."""

    text: str
    bold: bool = False
    double: bool = False
    align: str = "left"


@dataclass(frozen=True, slots=True)
class PaperCut:
    """GS V: the paper was cut."""


@dataclass(frozen=True, slots=True)
class DrawerPulse:
    """ESC p (or DLE DC4 1): a pulse on drawer connector pin 2 or 5."""

    pin: int


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """DLE EOT n: the host wants status byte ``n`` now."""

    n: int


Event: TypeAlias = Line | PaperCut | DrawerPulse | StatusQuery


class _Incomplete(Exception):
    """The buffer ends inside a command; wait for more bytes."""


class EscposDecoder:
    """Turns a printer's input stream into ``Event``s, keeping the printer's mode state."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.unknown = 0  # commands we could not interpret, skipped as best we could
        self.reset()

    def reset(self) -> None:
        """ESC @, or a power cycle: back to CP437, left, normal text, empty line buffer."""
        self._text: list[str] = []
        self._line_style: tuple[bool, bool, str] | None = None
        self._bold = self._double = False
        self._align, self._code_page = "left", 0
        self._qr = ""

    def feed(self, data: bytes) -> list[Event]:
        """Decode ``data`` (appended to any incomplete command held from before)."""
        self._buf += data
        events: list[Event] = []
        pos = 0
        try:
            while pos < len(self._buf):
                pos = self._step(pos, events)
        except _Incomplete:
            pass
        del self._buf[:pos]
        return events

    def _step(self, pos: int, out: list[Event]) -> int:
        """Decode one command or run of text at ``pos``; return where the next one starts."""
        buf, byte = self._buf, self._buf[pos]
        if byte == LF:
            out.append(self._flush())
            return pos + 1
        if byte == ESC:
            return self._esc(pos, _need(buf, pos, 2)[1], out)
        if byte == GS:
            return self._gs(pos, _need(buf, pos, 2)[1], out)
        if byte == DLE:
            cmd = _need(buf, pos, 3)
            if cmd[1] == 0x04:
                out.append(StatusQuery(cmd[2]))
                return pos + 3
            if cmd[1] == 0x14:
                pulse = _need(buf, pos, 5)
                if pulse[2] == 1:
                    out.append(DrawerPulse(2 if pulse[3] == 0 else 5))
                return pos + 5
            self.unknown += 1
            return pos + 2
        if byte < 0x20:  # CR, HT, FF and the rest: nothing to print
            return pos + 1
        end = pos
        while end < len(buf) and buf[end] >= 0x20:
            end += 1
        self._add_text(bytes(buf[pos:end]))
        return end

    def _esc(self, pos: int, cmd: int, out: list[Event]) -> int:
        buf = self._buf
        if cmd == ord("@"):
            self.reset()
            return pos + 2
        if cmd == ord("p"):
            out.append(DrawerPulse(2 if _need(buf, pos, 5)[2] in (0, 48) else 5))
            return pos + 5
        if cmd in _ESC_SKIP:
            return pos + len(_need(buf, pos, 2 + _ESC_SKIP[cmd]))
        if cmd not in b"E!atd":
            self.unknown += 1
            return pos + 2
        n = _need(buf, pos, 3)[2]
        if cmd == ord("E"):
            self._bold = bool(n & 1)
        elif cmd == ord("!"):
            self._bold, self._double = bool(n & 0x08), bool(n & 0x30)
        elif cmd == ord("a"):
            self._align = _ALIGN.get(n, "left")
        elif cmd == ord("t"):
            self._code_page = n
        else:  # ESC d n: print the line buffer, then feed n lines
            if self._text:
                out.append(self._flush())
            out.extend(self._flush() for _ in range(n))
        return pos + 3

    def _gs(self, pos: int, cmd: int, out: list[Event]) -> int:
        buf = self._buf
        if cmd == ord("!"):
            self._double = bool(_need(buf, pos, 3)[2] & 0x77)
            return pos + 3
        if cmd == ord("V"):
            m = _need(buf, pos, 3)[2]
            size = 3 if m in (0, 1, 48, 49) else 4
            _need(buf, pos, size)
            if self._text:
                out.append(self._flush())
            out.append(PaperCut())
            return pos + size
        if cmd == ord("("):  # GS ( fn pL pH data: length-prefixed
            head = _need(buf, pos, 5)
            end = pos + 5 + head[3] + 256 * head[4]
            body = _need(buf, pos, end - pos)[5:]
            if head[2] == ord("k"):
                self._symbol(body, out)
            return end
        if cmd == ord("k"):
            return self._barcode(pos, out)
        if cmd == ord("v"):  # GS v 0 m xL xH yL yH data: a raster image
            head = _need(buf, pos, 8)
            end = pos + 8 + (head[4] + 256 * head[5]) * (head[6] + 256 * head[7])
            _need(buf, pos, end - pos)
            self._marker("[IMAGE]", out)
            return end
        if cmd in _GS_SKIP:
            return pos + len(_need(buf, pos, 2 + _GS_SKIP[cmd]))
        self.unknown += 1
        return pos + 2

    def _symbol(self, body: bytes, out: list[Event]) -> None:
        """GS ( k for QR (cn 49): fn 80 stores the data, fn 81 prints it."""
        if len(body) < 2 or body[0] != ord("1"):
            return
        if body[1] == 80:
            self._qr = body[3:].decode("utf-8", "replace")
        elif body[1] == 81:
            self._marker(f"[QR {self._qr}]", out)

    def _barcode(self, pos: int, out: list[Event]) -> int:
        """GS k m: NUL-terminated data for m 0-6, length-prefixed for m 65 and up."""
        buf = self._buf
        m = _need(buf, pos, 3)[2]
        if m <= 6:
            end = buf.find(b"\0", pos + 3)
            if end < 0:
                raise _Incomplete
            data, after = bytes(buf[pos + 3:end]), end + 1
        else:
            n = _need(buf, pos, 4)[3]
            data, after = _need(buf, pos, 4 + n)[4:], pos + 4 + n
        text = data.decode("ascii", "replace")
        self._marker(f"[BARCODE {text[2:] if m == 73 and text.startswith('{') else text}]", out)
        return after

    def _add_text(self, raw: bytes) -> None:
        if self._line_style is None:
            self._line_style = (self._bold, self._double, self._align)
        codec = CODE_PAGES.get(self._code_page)
        if codec is None:
            self._text.append("".join(chr(b) if b < 0x80 else "?" for b in raw))
        else:
            self._text.append(raw.decode(codec, "replace"))

    def _flush(self) -> Line:
        """End the current line (an empty line when nothing is buffered: a feed)."""
        bold, double, align = self._line_style or (self._bold, self._double, self._align)
        line = Line("".join(self._text), bold, double, align)
        self._text, self._line_style = [], None
        return line

    def _marker(self, text: str, out: list[Event]) -> None:
        if self._text:
            out.append(self._flush())
        out.append(Line(text, align=self._align))


def _need(buf: bytearray, pos: int, size: int) -> bytes:
    """The ``size`` bytes of the command at ``pos``, or wait for more if they are not all in."""
    if len(buf) < pos + size:
        raise _Incomplete
    return bytes(buf[pos:pos + size])
