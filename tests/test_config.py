"""Settings read from the environment: a bad value stops the server at start with its name."""

from __future__ import annotations

import pytest

from fynlo.config import Settings


def test_numbers_are_read_and_defaulted() -> None:
    settings = Settings.from_env({"FYNLO_DB_DEADLINE": "2.5", "FYNLO_DB_POOL_SIZE": "4"})
    assert (settings.db_deadline_s, settings.db_pool_size, settings.lease_ttl_s) == (2.5, 4, 6.0)


@pytest.mark.parametrize("key, raw, says", [
    ("FYNLO_DB_DEADLINE", "soon", "must be a number"),
    ("FYNLO_DB_DEADLINE", "0", "must be more than 0"),
    ("FYNLO_DB_POOL_SIZE", "-1", "must be more than 0"),
    ("FYNLO_LEASE_TTL", "nan", "must be more than 0"),
    ("FYNLO_LEASE_RENEW", "0", "must be more than 0"),
])
def test_a_bad_number_is_refused_by_name(key: str, raw: str, says: str) -> None:
    with pytest.raises(ValueError, match=f"{key} {says}"):
        Settings.from_env({key: raw})
