"""The simulator: its pure parts alone, then a real server driven through the real protocols."""

from __future__ import annotations

import sys
import time

import pytest
import trio

from fynlo.db import Database
from sim import CommandFailed, HandshakeRefused, TerminalClient, run_terminals, ws_url
from sim.client import SharedDecoder
from sim.dinner import DinnerMix
from sim.events import EventLog
from sim.fanout import FanoutTracker
from sim.paying import Customers
from sim.stats import percentile, summary_ms
from sim.terminals import Fleet, Session
from tests.payment_kit import payments_server, rows
from tests.support import make_settings, make_venue, running_server, with_menu


def test_percentile_is_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]  # 1..100
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 95) == 95.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile([3.0, 7.0], 50) == 3.0  # an observed sample, never an interpolation
    assert percentile([3.0, 7.0], 51) == 7.0
    assert percentile([5.0], 1) == 5.0


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_ms_converts_and_handles_empty() -> None:
    assert summary_ms([0.004, 0.001, 0.002, 0.003]) == {"p50": 2.0, "p95": 4.0, "p99": 4.0, "max": 4.0}
    assert summary_ms([]) == {"p50": None, "p95": None, "p99": None, "max": None}


def test_ws_url() -> None:
    assert ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/ws/terminal"
    assert ws_url("https://pos.example/fynlo/") == "wss://pos.example/fynlo/ws/terminal"
    with pytest.raises(ValueError):
        ws_url("ftp://nope")


def test_event_log_records_gaps_and_duplicates() -> None:
    log = EventLog()
    log.start(10)
    for seq in (11, 12, 12, 15, 14, 16):
        log.receive({"type": "event", "seq": seq}, 0.0)
    assert [e["seq"] for e in log.events] == [11, 12, 15, 16]
    assert [(a.kind, a.detail) for a in log.anomalies] == [
        ("duplicate", "seq 12 after 12"), ("gap", "expected seq 13, got 15"), ("duplicate", "seq 14 after 15")]
    assert log.last_seq == 16


def test_fanout_waits_for_every_terminal() -> None:
    tracker = FanoutTracker(terminals=2)
    tracker.received("a", 1.0)  # seen before the ack: counts from the ack, floored at 0
    tracker.acked("a", 1.5)
    tracker.acked("b", 2.0)
    tracker.received("b", 2.1)
    assert tracker.outstanding == 2
    tracker.received("a", 1.25)
    tracker.received("b", 2.5)
    assert tracker.outstanding == 0
    assert tracker.latencies() == [0.0, pytest.approx(0.5)]


async def test_terminal_client_against_a_real_server(db: Database, database_url: str) -> None:
    settings = make_settings()
    kit = await make_venue(db, settings)
    async with running_server(settings, database_url) as base_url:
        with pytest.raises(HandshakeRefused) as refused:
            async with TerminalClient.connect(base_url, "not-a-token"):
                pass
        assert refused.value.code == 1008 and refused.value.reason.startswith("unauthenticated")

        async with TerminalClient.connect(base_url, kit.token("manager")) as a, \
                TerminalClient.connect(base_url, kit.token("staff")) as b:
            assert a.venue_id == kit.venue_id and a.last_seq == a.welcome_seq
            venue = await a.command_ok("venue.get")
            assert venue["id"] == kit.venue_id
            reply = await b.command("venue.update", {"address": "1 Test Street"})
            assert reply["ok"] is False and reply["error"]["code"] == "forbidden"
            await a.command_ok("venue.update", {"address": "2 Test Street"})
            for t in (a, b):
                event = await t.next_event()
                assert event["name"] == "venue.updated" and event["data"]["address"] == "2 Test Street"
                assert event["seq"] == t.welcome_seq + 1 and len(t.event_times) == 1
            await a.send_raw("{not json")
            stray = await a.next_stray_reply()
            assert stray["ok"] is False and stray["error"]["code"] == "validation_error"
            assert a.timings[0].latency is not None and not a.anomalies and not b.anomalies


async def test_terminal_client_resumes_and_reauthenticates(db: Database, database_url: str) -> None:
    settings = make_settings()
    kit = await make_venue(db, settings)
    async with running_server(settings, database_url) as base_url:
        async with TerminalClient.connect(base_url, kit.token("manager"), terminal_id=kit.terminal_id) as a:
            start = a.welcome_seq
            for n in range(3):
                await a.command_ok("venue.update", {"address": f"{n} Replay Road"})
            await a.wait_for_seq(start + 3)
            answer = await a.auth(kit.token("staff"))
            assert answer["ok"] is True and answer["role"] == "staff"
            with pytest.raises(CommandFailed) as failed:
                await a.command_ok("venue.update", {"address": "nope"})
            assert failed.value.code == "forbidden"
        async with TerminalClient.connect(base_url, kit.token("manager"), last_seq=start + 1) as b:
            await b.wait_for_seq(start + 3)
            assert [e["seq"] for e in b.events] == [start + 2, start + 3] and not b.anomalies
            assert b.events[-1]["data"]["address"] == "2 Replay Road"


async def test_terminals_load_end_to_end(db: Database, database_url: str) -> None:
    settings = make_settings()
    kit = await make_venue(db, settings)
    async with running_server(settings, database_url) as base_url:
        with trio.fail_after(30):
            report = await run_terminals(base_url, count=5, duration=2, rate=5, token=kit.token("owner"), seed=7)
    assert report["commands"] > 0 and report["replies"] == report["commands"]
    assert report["errors"] == 0, report["errors_by_code"]
    assert report["anomalies"] == [] and report["closed"] == []
    assert report["writes"] > 0 and report["fanout_incomplete"] == 0
    assert report["events_per_terminal"] == [report["writes"]] * 5
    assert report["ack_ms"]["max"] is not None and report["fanout_ms"]["max"] is not None


async def dinner(server: str, token: str, customers: Customers | None, *, seconds: float) -> tuple[DinnerMix, dict]:
    """Three servers working the dinner mix, paying every bill, for `seconds`."""
    async with Fleet.connect(server, [Session(token)] * 3) as fleet:
        mix = DinnerMix(takeaway_share=0.3, customers=customers)
        await mix.prepare(fleet.clients[0])
        with trio.fail_after(seconds + 20):
            return mix, await fleet.drive(mix, duration=seconds, rate=12, seed=5)


async def test_dinner_servers_take_cash_card_and_qr_and_close_their_orders(db: Database, database_url: str) -> None:
    settings = make_settings()
    kit = await with_menu(db, await make_venue(db, settings))
    async with payments_server(settings, database_url) as p:
        guests = Customers(card=p.stripe.customer_pays, qr=True, shares={"cash": 1, "card": 1, "qr": 1})
        mix, report = await dinner(p.server, kit.token("owner"), guests, seconds=6)
    assert report["errors"] == 0, report["error_samples"]
    assert report["anomalies"] == [] and report["fanout_incomplete"] == 0
    ok = report["ok_by_name"]
    assert min(ok.get(name, 0) for name in ("payment.cash", "payment.card_start", "payment.qr_start")) >= 1, ok
    payments = await rows(db, "SELECT p.method, p.status, p.amount, p.change, o.status AS order_status"
                              " FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.venue_id = %s", kit.venue_id)
    assert {r["method"] for r in payments} == {"cash", "card", "open_banking"}
    completed = [r for r in payments if r["order_status"] == "completed"]
    assert len(completed) == ok["order.complete"] and all(r["status"] == "succeeded" for r in completed)
    assert {r["method"] for r in completed} == {"cash", "card", "open_banking"}
    assert any(r["change"] for r in payments if r["method"] == "cash")     # some guests hand over a note
    till = await rows(db, "SELECT kind, sum(amount) AS total FROM cash_ledger WHERE venue_id = %s GROUP BY kind",
                      kit.venue_id)
    cash = sum(r["amount"] for r in payments if r["method"] == "cash")
    assert {r["kind"]: r["total"] for r in till} == {"float": 10000, "sale": cash}
    assert mix.payments.dropped == set()


async def no_card_reader(intent_id: str) -> None:
    raise AssertionError("no card can be presented: the server has no Stripe")


async def test_without_providers_every_bill_is_paid_in_cash(db: Database, database_url: str) -> None:
    settings = make_settings()
    plain_venue = await with_menu(db, await make_venue(db, settings))
    hoping_venue = await with_menu(db, await make_venue(db, settings, "Hopeful Venue"))
    async with running_server(settings, database_url) as server:
        _, plain = await dinner(server, plain_venue.token("owner"), None, seconds=3)
        guests = Customers(card=no_card_reader, qr=True, shares={"card": 1, "qr": 1, "cash": 0})
        mix, hoping = await dinner(server, hoping_venue.token("owner"), guests, seconds=3)
    assert plain["errors"] == 0 and plain["ok_by_name"]["payment.cash"] >= 1, plain["error_samples"]
    assert mix.payments.dropped == {"card", "qr"}   # refused (`unavailable`): the next bills in cash
    assert set(hoping["errors_by_code"]) == {"unavailable"} and hoping["ok_by_name"]["payment.cash"] >= 1
    for venue in (plain_venue, hoping_venue):
        taken = await rows(db, "SELECT DISTINCT method FROM payments WHERE venue_id = %s AND status = 'succeeded'",
                           venue.venue_id)
        assert taken == [{"method": "cash"}]


def test_a_shared_decoder_decodes_an_event_once_for_every_terminal_and_nothing_else() -> None:
    decode = SharedDecoder(size=2)
    event = '{"type":"event","seq":7,"name":"order.updated","data":{"v":1}}'
    first = decode(event)
    assert first == {"type": "event", "seq": 7, "name": "order.updated", "data": {"v": 1}}
    assert decode("".join(event)) is first  # an equal frame from another socket: the same object
    reply = '{"type":"reply","id":"x","ok":true,"result":{}}'
    assert decode(reply) == decode(reply) and decode(reply) is not decode(reply)  # replies: each its own
    assert decode('{"type":"event", not json') is None
    decode('{"type":"event","seq":8}')
    decode('{"type":"event","seq":9}')  # over `size`: what was kept is forgotten
    again = decode(event)
    assert again == first and again is not first


def test_whole_text_frames_are_taken_apart_here_and_anything_else_is_left_for_wsproto() -> None:
    from collections import deque

    from wsproto.frame_protocol import FrameProtocol

    from sim.websocket import _plain_frames

    server = FrameProtocol(client=False, extensions=[])
    texts = ["{}", "é" * 100, "x" * 70_000]  # lengths in 7, 16 and 64 bits
    wire = bytearray(b"".join(bytes(server.send_data(text)) for text in texts))
    taken: deque[str] = deque()
    used, other = _plain_frames(wire[:-1], taken)  # the last frame not whole yet: waits
    assert (list(taken), other) == (texts[:2], False) and used == len(wire) - 70_010
    taken.clear()
    ping = bytes(server.ping(b"?"))
    used, other = _plain_frames(wire + ping + bytes(server.send_data("after")), taken)
    assert (list(taken), used, other) == (texts, len(wire), True)  # stops at the ping, for wsproto
    for not_whole in (bytes(server.send_data("part", fin=False)), b"\x81\x02\xff\xfe"):  # a fragment; not UTF-8
        taken.clear()
        assert _plain_frames(bytearray(not_whole), taken) == (0, True) and not taken


async def test_a_refused_upgrade_reports_the_status(db: Database, database_url: str) -> None:
    from sim.websocket import ClientSocket

    async with running_server(make_settings(), database_url) as base_url:
        with pytest.raises(HandshakeRefused) as refused:
            await ClientSocket.open(ws_url(base_url, "/ws/nowhere"))
    assert refused.value.code == 404


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's receive timestamps are Linux's")
async def test_a_message_is_timed_from_its_arrival_not_from_a_late_read() -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request, TextMessage

    from sim.websocket import ClientSocket

    warmed, sent = trio.Event(), trio.Event()
    sent_at: list[float] = []

    async def serve(stream: trio.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        while True:
            ws.receive_data(await stream.receive_some(4096))
            if any(isinstance(e, Request) for e in ws.events()):
                break
        await stream.send_all(ws.send(AcceptConnection()) + ws.send(TextMessage(data="warm")))
        await warmed.wait()
        sent_at.append(time.perf_counter())
        await stream.send_all(ws.send(TextMessage(data="hello")))
        sent_at.append(time.perf_counter())
        sent.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, serve, 0)
        port = listeners[0].socket.getsockname()[1]
        sock = await ClientSocket.open(f"ws://127.0.0.1:{port}/")
        # The kernel turns receive timestamps on for everyone a moment after the first socket
        # asks (a deferred switch): a frame first, and a pause, so that the measured one has one.
        assert (await sock.receive()).messages == ["warm"]
        await trio.sleep(0.05)
        warmed.set()
        await sent.wait()
        await trio.sleep(0.1)  # the reader is late: busy with other terminals' frames, say
        received = await sock.receive()
        await sock.aclose()
        nursery.cancel_scope.cancel()
    assert received.messages == ["hello"]
    assert sent_at[0] - 0.002 <= received.arrived <= sent_at[1] + 0.005
    assert received.read - received.arrived >= 0.09
