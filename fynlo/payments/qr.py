"""QR codes for the customer's payment page, drawn as SVG so any screen or browser can show them."""

from __future__ import annotations

from functools import lru_cache
from itertools import groupby
from typing import Iterable

import qrcode
from qrcode.constants import ERROR_CORRECT_M

__all__ = ["lost_point", "qr_modules", "qr_svg"]

QUIET_ZONE = 4  # modules of light margin on each side: the minimum the QR standard asks scanners for

_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
# 1:1:3:1:1 dark-light-dark-light-dark with four light modules after or before: a finder's look-alike.
_FINDER_LIKE = ("10111010000", "00001011101")


def lost_point(modules: list[list[bool]]) -> int:
    """qrcode's penalty for a masked code (`qrcode.util.lost_point`): the same four rules, the
    same score. Runs of five or more of one colour score their length − 2; each 2×2 block of
    one colour 3; each finder look-alike in a row or column 40; every 5 % of dark modules away
    from half 10."""
    return _penalty(*_lines(modules), len(modules))


def _lines(modules: list[list[bool]]) -> tuple[int, int]:
    """The code's rows, and its columns, as one integer each: every line's modules as bits
    (1 dark) in order, each line followed by a separator bit of 0."""
    def bits(lines: Iterable[Iterable[bool]]) -> int:
        return int(b"".join(bytes(line) + b"\x00" for line in lines).translate(_DIGITS), 2)
    return bits(modules), bits(zip(*modules))


@lru_cache(maxsize=16)
def _fields(field: str, lines: int) -> int:
    """`field` (a line's bits and its separator, first module first) repeated for `lines` lines."""
    return int(field * lines, 2)


def _penalty(rows: int, columns: int, size: int) -> int:
    """`lost_point` of the code whose lines are `rows` and `columns` (`_lines`), counted for
    every line at once with integer operations rather than module by module."""
    line, lines = size + 1, 2 * size
    both = rows << (size * line) | columns
    # A bit for each module the colour of the one before it in its line.
    same = ~(both ^ (both >> 1)) & _fields("0" + "1" * (size - 1) + "0", lines)
    # A run of n >= 5 has n - 4 modules ending five alike, in one group: n - 2 is their count + 2.
    fives = same & (same >> 1) & (same >> 2) & (same >> 3)
    runs = fives.bit_count() + 2 * (fives & ~(fives >> 1)).bit_count()
    row_same = same >> (size * line)
    blocks = 3 * (row_same & (row_same >> line) & ~(rows ^ (rows >> line))).bit_count()
    shifted = [both >> back for back in range(11)]
    ends = _fields("0" * 10 + "1" * (size - 10) + "0", lines)  # modules with ten before them in their line
    finders = 0
    for pattern in _FINDER_LIKE:
        found = ends
        for back, bit in enumerate(reversed(pattern)):
            found &= shifted[back] if bit == "1" else ~shifted[back]
        finders += 40 * found.bit_count()
    balance = 10 * int(abs(float(rows.bit_count()) / (size ** 2) * 100 - 50) / 5)
    return runs + blocks + finders + balance


# (version, error correction) -> for each mask, the bits of the rows and of the columns that
# differ from mask 0's in qrcode's test matrices: the data modules that mask flips, whatever
# the data (a mask is an exclusive-or). Two threads (a worker thread drawing a stored reply,
# the event loop) may fill an entry at once, with the same value.
_MASK_CHANGES: dict[tuple[int, int], list[tuple[int, int]]] = {}


class _Code(qrcode.QRCode):
    """qrcode's code with its mask chosen as qrcode chooses it: the first of the eight masks
    whose test matrix has the lowest `lost_point`. qrcode builds and scores the eight matrices
    module by module (four fifths of a code's time); here mask 0's is built and the other
    seven are derived from it, each scored with integer operations."""

    def best_mask_pattern(self) -> int:
        self.makeImpl(True, 0)
        rows, columns = _lines(self.modules)
        key = (self.version, self.error_correction)
        if key not in _MASK_CHANGES:
            changes = []
            for mask in range(8):
                self.makeImpl(True, mask)
                masked_rows, masked_columns = _lines(self.modules)
                changes.append((rows ^ masked_rows, columns ^ masked_columns))
            _MASK_CHANGES[key] = changes
        scores = [_penalty(rows ^ row_changes, columns ^ column_changes, self.modules_count)
                  for row_changes, column_changes in _MASK_CHANGES[key]]
        return scores.index(min(scores))


def qr_modules(data: str) -> list[list[bool]]:
    """The code's modules, row by row, quiet zone included (True is dark).

    Error correction M survives a smudged or glare-struck display without a dense code; the
    mask is the one of the eight the standard's penalty rules prefer.
    """
    code = _Code(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


@lru_cache(maxsize=64)
def qr_svg(data: str) -> str:
    """`data` (a payment page URL) as a standalone SVG document, deterministic for equal input.

    One path, a rectangle per run of dark modules in a row, on a white background, so the
    quiet zone stays light on a dark-themed screen. Written here rather than by qrcode's SVG
    image factories, which place every module through an XML tree: three times the time of
    the code itself. Drawing one still takes about a millisecond of CPU, so the latest are kept: a
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
