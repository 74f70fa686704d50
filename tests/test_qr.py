"""The payment page's QR code: qrcode's own code, its mask chosen faster, drawn as SVG."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import qrcode
from hypothesis import given
from hypothesis import strategies as st
from qrcode import util
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

from fynlo.payments.qr import QUIET_ZONE, lost_point, qr_modules, qr_svg

SVG = "{http://www.w3.org/2000/svg}"
LEVELS = st.sampled_from([ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q, ERROR_CORRECT_H])


def _runs_matrix(size: int, seed: int) -> list[list[bool]]:
    """A square of alternating runs of 1 to 12 modules: long runs and finder look-alikes are common."""
    rng = random.Random(seed)
    rows = []
    for _ in range(size):
        row: list[bool] = []
        dark = rng.random() < 0.5
        while len(row) < size:
            row += [dark] * rng.randint(1, 12)
            dark = not dark
        rows.append(row[:size])
    return rows


@given(st.integers(min_value=21, max_value=57), st.integers(min_value=0, max_value=2**32))
def test_the_penalty_is_qrcodes_for_any_square(size: int, seed: int) -> None:
    modules = _runs_matrix(size, seed)
    assert lost_point(modules) == util.lost_point(modules)
    transposed = [list(column) for column in zip(*modules)]
    assert lost_point(transposed) == util.lost_point(transposed)


@given(st.text(min_size=1, max_size=300), LEVELS)
def test_the_penalty_is_qrcodes_for_every_masked_code(data: str, level: int) -> None:
    code = qrcode.QRCode(error_correction=level)
    code.add_data(data)
    code.best_fit()
    for mask in range(8):
        code.makeImpl(True, mask)
        assert lost_point(code.modules) == util.lost_point(code.modules), mask


def _theirs(data: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return code


@given(st.text(min_size=1, max_size=300))
def test_the_code_is_the_one_qrcode_draws_with_its_own_mask_choice(data: str) -> None:
    assert qr_modules(data) == _theirs(data).get_matrix()


def test_each_code_of_a_version_gets_its_own_mask() -> None:
    """What the masks change is kept per version: the next code of that version still gets
    the mask qrcode chooses for it, not the first one's."""
    versions, masks = set(), set()
    for n in range(40):
        url = f"http://127.0.0.1:8080/pay/pr_{n:016x}"
        theirs = _theirs(url)
        assert qr_modules(url) == theirs.get_matrix()
        versions.add(theirs.version)
        masks.add(theirs.best_mask_pattern())   # after the comparison: it rebuilds the test matrices
    assert len(versions) == 1 and len(masks) > 1


def test_qr_svg_is_deterministic_svg_with_a_path() -> None:
    url = "http://127.0.0.1:8080/pay/pr_0123456789abcdef"
    svg = qr_svg(url)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}path") is not None
    assert qr_svg(url) == svg
    assert qr_svg(url + "0") != svg


def test_the_svg_draws_exactly_the_codes_dark_modules() -> None:
    url = "http://127.0.0.1:8080/pay/pr_fedcba9876543210"
    modules = qr_modules(url)
    root = ET.fromstring(qr_svg(url))
    size = len(modules)
    assert root.get("viewBox") == f"0 0 {size} {size}"
    drawn: set[tuple[int, int]] = set()
    for x, y, length, back in re.findall(r"M(\d+),(\d+)h(\d+)v1h-(\d+)z", root.find(f"{SVG}path").get("d")):
        assert length == back
        drawn |= {(int(x) + i, int(y)) for i in range(int(length))}
    assert drawn == {(x, y) for y, row in enumerate(modules) for x, dark in enumerate(row) if dark}
    assert not any(modules[0]) and not any(row[0] for row in modules)   # the quiet zone stays light
