"""Property tests for the pure order rules: splits add up, kitchen status follows tickets."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from fynlo.money import percent_of
from fynlo.orders import actions, kitchen
from fynlo.orders.model import KitchenStatus, Line, LineState, Order, OrderKind, TicketStatus
from fynlo.orders.totals import Discount, Gratuity, ServiceCharge

NOW = datetime(2026, 11, 22, 19, 0, tzinfo=timezone.utc)


def _order(lines: list[Line], discount: Discount | None = None) -> Order:
    return Order(id=str(uuid.uuid4()), venue_id="v", number=1, business_date=date(2026, 11, 22),
                 kind=OrderKind.DINE_IN, table_id=None, covers=2, version=1, opened_by=None, opened_at=NOW,
                 lines=tuple(lines), discount=discount)


@st.composite
def lines(draw: st.DrawFn) -> list[Line]:
    out = []
    for position in range(draw(st.integers(1, 8))):
        price, quantity = draw(st.integers(0, 5000)), draw(st.integers(1, 5))
        gross = price * quantity
        discount = draw(st.one_of(
            st.none(),
            st.integers(0, 100).map(lambda p: Discount("percent", f"{p}.00")),
            st.integers(0, gross).map(lambda a: Discount("amount", a)),
        ))
        out.append(Line(id=str(uuid.uuid4()), item_id=str(uuid.uuid4()), name=f"item {position}", unit_price=price,
                        quantity=quantity, modifiers=(), station="kitchen", position=position,
                        vat_eat_in=draw(st.sampled_from(["20.00", "5.00", "0.00"])), vat_takeaway="0.00",
                        state=draw(st.sampled_from([LineState.UNSENT, LineState.SENT])), discount=discount))
    return out


RATES = st.integers(0, 2500).map(lambda bp: f"{bp // 100}.{bp % 100:02d}")
SERVICE = st.one_of(st.none(), st.builds(ServiceCharge, RATES, st.booleans()))
GRATUITY = st.one_of(st.none(), st.builds(Gratuity, percent=RATES), st.builds(Gratuity, amount=st.integers(0, 5000)))


@settings(max_examples=300, deadline=None)
@given(lines(), st.one_of(st.none(), st.integers(0, 100).map(lambda p: Discount("percent", f"{p}.00"))),
       st.integers(1, 4), SERVICE, GRATUITY, st.data())
def test_the_parts_of_a_split_sum_to_the_original(lines: list[Line], discount: Discount | None, parts: int,
                                                   service: ServiceCharge | None, gratuity: Gratuity | None,
                                                   data: st.DataObject) -> None:
    order = replace(_order(lines, discount), service_charge=service, gratuity=gratuity)
    part_ids = [order.id] + [str(uuid.uuid4()) for _ in range(parts)]
    assignment = [(pid, set()) for pid in part_ids]
    for line in lines:
        owners = data.draw(st.sets(st.integers(0, len(part_ids) - 1), max_size=len(part_ids)))
        for owner in owners:
            assignment[owner][1].add(line.id)
    remaining, moved = actions.split(order, [(pid, ids) for pid, ids in assignment if ids])
    orders = actions.share_charges(order, [remaining] + [_order(list(ls)) for ls in moved.values()])
    original = order.totals()
    for figure in ("after_discounts", "service_charge", "gratuity", "total"):
        assert sum(getattr(o.totals(), figure) for o in orders) == getattr(original, figure), figure
    # each bill's charge is within a penny of its rate applied to its own lines
    for o in orders:
        if service is not None:
            assert abs(o.totals().service_charge - percent_of(o.totals().after_discounts, service.rate)) <= 1
    # Each order's VAT is found once per rate band and rounded there, so the parts' VAT may
    # differ from the original's by up to half a penny for every band rounded, theirs and its.
    rounded = sum(len(o.totals().vat) for o in orders) + len(original.vat)
    assert abs(sum(o.totals().vat_total for o in orders) - original.vat_total) <= rounded / 2
    for o in orders:
        assert all(t.net >= 0 for t in o.totals().lines)


@given(st.lists(st.sampled_from(list(TicketStatus)), min_size=1, max_size=6))
def test_kitchen_status_follows_the_fired_tickets(statuses: list[TicketStatus]) -> None:
    tickets = [kitchen.Ticket(id=str(i), station="kitchen", course=1, kind="order", status=s, lines=(),
                              created_at=NOW) for i, s in enumerate(statuses)]
    summary = kitchen.summarise(tickets, KitchenStatus.NONE)
    fired = [s for s in statuses if s is not TicketStatus.HELD]
    if not fired:
        assert summary is KitchenStatus.NONE
    elif all(s is TicketStatus.READY for s in fired):
        assert summary is KitchenStatus.READY
    elif all(s is TicketStatus.SENT for s in fired):
        assert summary is KitchenStatus.SENT
    else:
        assert summary is KitchenStatus.PREPARING


def test_send_holds_later_courses_until_fired() -> None:
    mk = lambda course, station="kitchen": Line(id=str(uuid.uuid4()), item_id="i", name="x", unit_price=100,  # noqa: E731
                                                quantity=1, modifiers=(), station=station, vat_eat_in="20.00",
                                                vat_takeaway="0.00", position=course, course=course)
    order = _order([mk(2), mk(3), mk(2, "bar"), mk(1, "none")])
    counter = iter(range(100))
    sent, tickets = kitchen.send(order, NOW, lambda key: f"{key}-{next(counter)}")
    assert sent.current_course == 1
    assert [(t.station, t.course, t.status) for t in tickets] == [
        ("bar", 2, TicketStatus.HELD), ("kitchen", 2, TicketStatus.HELD), ("kitchen", 3, TicketStatus.HELD)]
    assert sent.kitchen_status is KitchenStatus.NONE and all(ln.state is LineState.SENT for ln in sent.lines)
    fired, now_fired = kitchen.fire_course(sent, 2, NOW)
    assert {(t.station, t.course) for t in now_fired} == {("bar", 2), ("kitchen", 2)}
    assert fired.kitchen_status is KitchenStatus.SENT
