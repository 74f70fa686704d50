"""Encoding documents, and reading them back through the simulator's decoder."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from devices import QR, Cut, DrawerKick, Feed, Row, Rule, Text, encode
from devices.sim import EscposDecoder
from devices.sim.decoder import DrawerPulse, Line, PaperCut, StatusQuery

# Every printable character CP858 (the code page we print in) can show.
CP858 = "".join(ch for ch in (bytes([b]).decode("cp858") for b in range(0x20, 0x100))
                if ch.isprintable())


def decoded(data: bytes) -> list[str]:
    return [e.text for e in EscposDecoder().feed(data) if isinstance(e, Line)]


def test_pound_and_euro_round_trip_in_cp858() -> None:
    data = encode([Text("£12.50 or €14.20")], 32)

    assert data.startswith(b"\x1b@\x1bt\x13")  # ESC @, then ESC t 19 (CP858)
    assert b"\x9c12.50 or \xd514.20\n" in data
    assert decoded(data) == ["£12.50 or €14.20"]


def test_characters_outside_the_code_page_and_controls_print_as_question_marks() -> None:
    data = encode([Text("Café ☕ \x1bE\x01 tab\there")], 48)

    assert decoded(data) == ["Café ? ?E? tab here"]
    assert b"\x1bE\x01 tab" not in data  # user text can never inject a command


def test_row_truncates_the_left_column_and_keeps_the_right() -> None:
    [line] = decoded(encode([Row("Chateau Lafite Rothschild 1996 magnum", "£1,250.00")], 32))

    assert line == "Chateau Lafite Rothsch £1,250.00"
    assert len(line) == 32


def test_row_with_an_overlong_right_column_keeps_the_right_column() -> None:
    [line] = decoded(encode([Row("left", "R" * 40)], 32))
    assert line == "R" * 32


def test_double_text_wraps_at_half_the_width() -> None:
    lines = decoded(encode([Text("ORDER 1042 TABLE 12 MAIN COURSE", double=True)], 32))
    assert lines == ["ORDER 1042 TABLE", "12 MAIN COURSE"]


def test_newlines_and_feeds_give_blank_lines() -> None:
    assert decoded(encode([Text("a\n\nb"), Feed(2), Feed(0), Rule()], 16)) == [
        "a", "", "b", "", "", "-" * 16]


def test_document_events() -> None:
    events = EscposDecoder().feed(encode([Text("x"), QR("q"), DrawerKick(5), Cut()], 32)
                                  + b"\x10\x04\x01")
    assert [e for e in events if not isinstance(e, Line)] == [DrawerPulse(5), PaperCut(),
                                                              StatusQuery(1)]
    assert [e.text for e in events if isinstance(e, Line)][:2] == ["x", "[QR q]"]


def test_invalid_blocks_and_widths_are_refused() -> None:
    with pytest.raises(ValueError):
        encode([Text("x")], 8)
    with pytest.raises(ValueError):
        Text("x", align="justify")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DrawerKick(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Feed(256)
    with pytest.raises(TypeError):
        encode(["not a block"], 32)  # type: ignore[list-item]


def test_decoder_takes_bytes_in_any_chunks() -> None:
    data = encode([Text("Bold £", bold=True), Row("a", "b"), QR("https://x/1"), Cut()], 32)
    whole = EscposDecoder().feed(data)
    decoder = EscposDecoder()
    one_by_one = [event for i in range(len(data)) for event in decoder.feed(data[i:i + 1])]
    assert one_by_one == whole


def test_decoder_reads_barcodes_images_and_skips_what_it_does_not_know() -> None:
    printer = Dummy()
    printer.barcode("4006381333931", "EAN13")
    printer.barcode("{BTABLE-12", "CODE128", function_type="B")
    printer.image(Image.new("1", (16, 8)))
    decoder = EscposDecoder()
    lines = [e.text for e in decoder.feed(printer.output + b"\x1b\x99after\n")
             if isinstance(e, Line)]

    assert lines[:2] == ["[BARCODE 4006381333931]", "[BARCODE TABLE-12]"]
    assert "[IMAGE]" in lines and lines[-1] == "after"
    assert decoder.unknown == 1


@given(text=st.text(st.sampled_from(CP858), max_size=200), width=st.sampled_from([32, 48]))
def test_printable_text_round_trips_line_by_line(text: str, width: int) -> None:
    lines = decoded(encode([Text(text)], width))

    if len(text) <= width:
        assert lines == [text]
    else:
        assert all(len(line) <= width for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@given(left=st.text(st.sampled_from(CP858), max_size=80),
       right=st.text(st.sampled_from(CP858), max_size=20), width=st.sampled_from([32, 48]))
def test_rows_fill_the_paper_width_exactly(left: str, right: str, width: int) -> None:
    [line] = decoded(encode([Row(left, right)], width))

    room = width - len(right) - 1  # at least one space between the columns
    assert line == left[:room].ljust(width - len(right)) + right
