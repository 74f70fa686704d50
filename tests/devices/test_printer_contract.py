"""The same suite for every wire: each real driver against its simulator."""

from __future__ import annotations

import pytest

from devices import (
    QR,
    CoverOpen,
    Cut,
    DrawerKick,
    Feed,
    PaperOut,
    PrinterStatus,
    Row,
    Rule,
    Text,
)

from .conftest import Rig

RECEIPT = [
    Text("The Fynlo Arms", bold=True, double=True, align="center"),
    Text("Table 12 - Sam"),
    Rule(),
    Row("2 x Fish & chips", "£25.00"),
    Row("1 x Espresso", "€2.80"),
    Row("TOTAL", "£27.80", bold=True),
    QR("https://fynlo.example/r/42"),
    Feed(1),
    Text("Thank you!", align="center"),
    Cut(),
]


@pytest.mark.parametrize("width", [32, 48])
async def test_receipt_comes_out_as_sent(rig: Rig, width: int) -> None:
    await rig.printer(width).print(RECEIPT)

    assert len(await rig.jobs(1)) == 1
    lines = (await rig.jobs(1))[0].split("\n")
    assert lines[0] == "The Fynlo Arms"
    assert lines[2] == "-" * width
    assert lines[3] == "2 x Fish & chips".ljust(width - 6) + "£25.00"
    assert lines[4].endswith("€2.80") and len(lines[4]) == width
    assert "[QR https://fynlo.example/r/42]" in lines
    assert lines[-1] == "Thank you!"
    await rig.jobs(1)
    styled = rig.sim.job_lines[0]
    assert styled[0].bold and styled[0].double and styled[0].align == "center"
    assert styled[5].bold and not styled[4].bold


@pytest.mark.parametrize("width", [32, 48])
async def test_long_text_wraps_at_the_paper_width(rig: Rig, width: int) -> None:
    words = "Allergens: gluten, milk, egg, mustard, sesame, sulphites, celery and nuts"
    await rig.printer(width).print([Text(words), Text(words, double=True), Cut()])

    await rig.jobs(1)
    lines = rig.sim.job_lines[0]
    assert all(len(line.text) <= (width // 2 if line.double else width) for line in lines)
    single = [line.text for line in lines if not line.double]
    assert " ".join(single) == words


async def test_drawer_kick_alone_is_a_job_of_its_own(rig: Rig) -> None:
    printer = rig.printer()
    await printer.kick_drawer(2)
    await printer.kick_drawer(5)

    assert await rig.jobs(2) == ["[DRAWER pin=2]", "[DRAWER pin=5]"]
    assert rig.sim.drawer_kicks == [2, 5]


async def test_drawer_kick_inside_a_receipt_is_a_marker_line(rig: Rig) -> None:
    await rig.printer().print([Text("Cash sale"), DrawerKick(2), Cut()])

    assert await rig.jobs(1) == ["Cash sale\n[DRAWER pin=2]"]


async def test_status_online(rig: Rig) -> None:
    status = await rig.printer().status()

    assert status == PrinterStatus(online=True, paper_out=False, paper_low=False,
                                   cover_open=False, drawer_open=False)
    assert status.summary == "online"


async def test_paper_out_is_reported_and_nothing_is_sent(rig: Rig) -> None:
    rig.sim.paper_out = True
    printer = rig.printer()

    status = await printer.status()
    assert status.paper_out and status.online is False and status.summary == "paper_out"
    with pytest.raises(PaperOut) as caught:
        await printer.print(RECEIPT)
    assert caught.value.maybe_sent is False
    assert rig.sim.jobs == []

    rig.sim.paper_out = False
    await printer.print(RECEIPT)
    assert len(await rig.jobs(1)) == 1


async def test_cover_open_is_reported_and_nothing_is_sent(rig: Rig) -> None:
    rig.sim.cover_open = True
    printer = rig.printer()

    assert (await printer.status()).summary == "cover_open"
    with pytest.raises(CoverOpen):
        await printer.kick_drawer()
    assert rig.sim.drawer_kicks == []


async def test_drawer_open_and_paper_low_are_reported_and_printing_goes_on(rig: Rig) -> None:
    rig.sim.drawer_open = rig.sim.paper_low = True
    printer = rig.printer()

    status = await printer.status()
    assert status.drawer_open and status.paper_low and status.summary == "drawer_open"
    await printer.print(RECEIPT)
    assert len(await rig.jobs(1)) == 1


async def test_garbled_status_is_unknown_not_an_error(rig: Rig) -> None:
    rig.sim.garbled = True
    printer = rig.printer()

    status = await printer.status()
    assert not status.known and status.summary == "unknown"
    await printer.print(RECEIPT)  # unknown status does not stop a job
    assert len(await rig.jobs(1)) == 1
