"""The bus payload: a command's events in one message, read back exactly, whatever they hold."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from fynlo.commands.unit import StoredEvent
from fynlo.events import bus_payload, frame_of, read_payload, tick_payload
from fynlo.runtime.publisher import Publisher

AT = datetime(2026, 12, 6, 19, 30, tzinfo=timezone.utc)
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)  # newlines, U+2028 and all
data = st.dictionaries(texts, st.one_of(texts, st.integers(), st.lists(texts, max_size=3)), max_size=4)


@given(st.lists(data, min_size=1, max_size=6), st.integers(min_value=1, max_value=10**9))
def test_every_event_comes_back_with_its_seq_and_frame(payloads: list[dict], first: int) -> None:
    events = [StoredEvent("v", first + i, "order.updated", None, AT, d) for i, d in enumerate(payloads)]
    records = read_payload(bus_payload(events))
    assert [seq for seq, _ in records] == [ev.seq for ev in events]
    assert [json.loads(frame)["data"] for _, frame in records] == payloads  # type: ignore[arg-type]
    assert [frame for _, frame in records] == [frame_of(ev) for ev in events]


def test_a_tick_has_a_seq_and_no_frame() -> None:
    assert read_payload(tick_payload(41)) == [(41, None)]


async def test_the_publisher_sends_a_backlog_in_order_a_hundred_events_to_a_message() -> None:
    sent: list[bytes] = []

    class Bus:
        async def publish(self, topic: str, payload: bytes) -> None:
            sent.append(payload)

    publisher = Publisher("v", None, Bus())  # type: ignore[arg-type]  # draining reads nothing
    publisher._next = 1
    held = {seq: StoredEvent("v", seq, "order.updated", None, AT, {"n": seq}) for seq in range(1, 251)}
    held[252] = StoredEvent("v", 252, "order.updated", None, AT, {})  # after a gap: held back
    await publisher._drain(held)
    messages = [read_payload(m) for m in sent]
    assert [len(m) for m in messages] == [100, 100, 50]
    assert [seq for m in messages for seq, _ in m] == list(range(1, 251))
    assert list(held) == [252] and publisher._next == 251
