"""The wire's JSON: frames are written by orjson as the standard library wrote them (the same
text, but for how a float is spelled)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from fynlo.wire import decode, dumps, encode

_TEXT = st.text(st.characters(exclude_categories=("Cs",)))  # no lone surrogates: see `decode`
_SCALARS = st.one_of(
    st.none(), st.booleans(), _TEXT,
    st.integers(),  # beyond 64 bits too: written by the standard library
    st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=1))])), st.dates(),
    st.uuids(), st.decimals(allow_nan=False, allow_infinity=False),
)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def _values(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner),
        st.dictionaries(st.one_of(_TEXT, st.integers(min_value=0, max_value=999)), inner, max_size=4)))


def _stdlib(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, default=str)


@given(st.dictionaries(_TEXT, _values(_SCALARS), max_size=6))
def test_a_frame_is_written_as_the_standard_library_wrote_it(frame: dict[str, Any]) -> None:
    assert encode(frame) == _stdlib(frame)


@given(st.dictionaries(_TEXT, _values(st.one_of(_SCALARS, _FLOATS)), max_size=6))
def test_a_float_may_be_spelled_otherwise_but_reads_back_the_same(frame: dict[str, Any]) -> None:
    assert json.loads(encode(frame)) == json.loads(_stdlib(frame))


def test_dates_uuids_and_decimals_are_written_as_their_str() -> None:
    at = datetime(2026, 12, 7, 0, 30, 15, 250, tzinfo=timezone.utc)
    frame = {"at": at, "day": date(2026, 12, 7), "id": UUID(int=7), "rate": Decimal("20.00"), 3: "three"}
    assert encode(frame) == ('{"at":"2026-12-07 00:30:15.000250+00:00","day":"2026-12-07",'
                             '"id":"00000000-0000-0000-0000-000000000007","rate":"20.00","3":"three"}')


@given(_values(st.one_of(st.none(), st.booleans(), _TEXT, st.integers(), _FLOATS)))
def test_a_column_value_reads_back_as_it_was(value: Any) -> None:
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))


def test_decoding_is_strict_json() -> None:
    assert decode('{"note":"caf\\u00e9 \\ud83c\\udf7a"}') == {"note": "café 🍺"}
    for bad in ('"\\ud800"', "NaN", "[Infinity]", "{not json", b"\xff"):
        try:
            decode(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
