from datetime import UTC, datetime

import pytest

from hygiene.importers.base import ImportFormatError, parse_datetime


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00", None, ""])
def test_a_go_zero_time_or_no_value_is_no_date(value):
    # Go tools marshal an unset time as year 1; taken as a date it would make the secret
    # "exposed since" the year 1 and every exposure-window metric absurd.
    assert parse_datetime(value) is None


def test_real_dates_are_read_as_aware_utc():
    assert parse_datetime("2024-03-01T12:00:00+02:00") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert parse_datetime(1709287200) == datetime(2024, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ImportFormatError):
        parse_datetime("next tuesday", "$[0].Date")
