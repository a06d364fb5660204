"""Month arithmetic: hand-checked cases, and the refusals name what was wrong."""

from __future__ import annotations

import pytest

from guardian.data.months import (
    add_months,
    check_month,
    days_in_month,
    month_range,
    months_back,
    parse_month,
)
from guardian.errors import InputError


def test_shifting_and_ranges_cross_year_ends():
    assert add_months("2021-01", -1) == "2020-12"
    assert add_months("2020-12", 14) == "2022-02"
    assert month_range("2020-11", "2021-02") == ["2020-11", "2020-12", "2021-01", "2021-02"]
    assert month_range("2021-02", "2021-01") == []
    assert months_back("2021-02", 3) == ["2020-12", "2021-01", "2021-02"]
    assert months_back("2021-02", 0) == []


def test_days_in_month_knows_leap_years():
    assert [days_in_month(m) for m in ("2020-02", "2021-02", "1900-02", "2000-02", "2021-12")] == [
        29, 28, 28, 29, 31]


@pytest.mark.parametrize("bad", ["2021-13", "2021-1", "21-01", "2021/01", "", "2021-00"])
def test_malformed_months_are_refused_by_name(bad):
    with pytest.raises(InputError, match=r"start_month .* is not a month; write YYYY-MM"):
        check_month(bad, "start_month")
    with pytest.raises(InputError):
        parse_month(bad)
    assert check_month(None, "x") is None and check_month("2021-12") == "2021-12"
