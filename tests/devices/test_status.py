"""DLE EOT requests and answers, and the status vocabulary the bridge reports."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import DeviceProtocolError, PrinterStatus
from devices.escpos import parse_status, status_request


def test_requests_are_dle_eot_n() -> None:
    assert [status_request(n) for n in (1, 2, 4)] == [b"\x10\x04\x01", b"\x10\x04\x02",
                                                      b"\x10\x04\x04"]
    with pytest.raises(ValueError):
        status_request(3)


@pytest.mark.parametrize(("n", "reply", "expected"), [
    (1, 0x12, PrinterStatus(online=True, drawer_open=False)),
    (1, 0x16, PrinterStatus(online=True, drawer_open=True)),
    (1, 0x1A, PrinterStatus(online=False, drawer_open=False)),
    (2, 0x12, PrinterStatus(cover_open=False, paper_out=False)),
    (2, 0x16, PrinterStatus(cover_open=True, paper_out=False)),
    (2, 0x32, PrinterStatus(cover_open=False, paper_out=True)),
    (4, 0x12, PrinterStatus(paper_low=False, paper_out=False)),
    (4, 0x1E, PrinterStatus(paper_low=True, paper_out=False)),
    (4, 0x72, PrinterStatus(paper_low=False, paper_out=True)),
])
def test_answers(n: int, reply: int, expected: PrinterStatus) -> None:
    assert parse_status(n, bytes((reply,))) == expected


@pytest.mark.parametrize("reply", [b"", b"\xff", b"\x00", b"\x12\x12", b"\x93"])
def test_missing_partial_or_garbled_answers_are_protocol_errors(reply: bytes) -> None:
    with pytest.raises(DeviceProtocolError):
        parse_status(1, reply)


@given(st.binary(max_size=4), st.sampled_from([1, 2, 4]))
def test_any_reply_parses_or_is_a_protocol_error(reply: bytes, n: int) -> None:
    try:
        parse_status(n, reply)
    except DeviceProtocolError:
        pass


def test_merge_and_summary() -> None:
    unknown = PrinterStatus()
    online = unknown.merge(PrinterStatus(online=True, drawer_open=False))
    assert not unknown.known and unknown.summary == "unknown"
    assert online.summary == "online"
    assert online.merge(PrinterStatus(drawer_open=True)).summary == "drawer_open"
    assert online.merge(PrinterStatus(online=False)).summary == "offline"
    assert online.merge(PrinterStatus(online=False, cover_open=True)).summary == "cover_open"
    assert online.merge(PrinterStatus(cover_open=True, paper_out=True)).summary == "paper_out"
    assert online.merge(unknown) == online
