"""Calendar months written ``YYYY-MM``: checking, shifting and ranges.

One home for month arithmetic, used from the loaders up to the reports (police.uk data is
monthly, so most periods in Guardian are months).
"""

from __future__ import annotations

import calendar
import re

from guardian.errors import InputError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(month: str, name: str = "month") -> tuple[int, int]:
    """``(year, month)`` of a ``YYYY-MM`` text; InputError naming ``name`` otherwise."""
    m = _MONTH.match(str(month))
    if m is None:
        raise InputError(f"{name} {month!r} is not a month; write YYYY-MM, e.g. 2021-12")
    return int(m.group(1)), int(m.group(2))


def check_month(month: str | None, name: str = "month") -> str | None:
    """``month`` itself when it is ``YYYY-MM`` (None passes through); InputError otherwise."""
    if month is None:
        return None
    parse_month(month, name)
    return str(month)


def add_months(month: str, n: int) -> str:
    """``month`` shifted by ``n`` months (``add_months("2021-01", -1) == "2020-12"``)."""
    y, m = parse_month(month)
    k = y * 12 + (m - 1) + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` inclusive (empty if ``end < start``)."""
    y0, m0 = parse_month(start)
    y1, m1 = parse_month(end)
    n = (y1 * 12 + m1) - (y0 * 12 + m0)
    return [add_months(start, i) for i in range(n + 1)]


def months_back(end: str, n: int) -> list[str]:
    """The ``n`` months ending with ``end``, oldest first."""
    return month_range(add_months(end, -(n - 1)), end) if n > 0 else []


def days_in_month(month: str) -> int:
    """Calendar days in ``month`` (28-31)."""
    y, m = parse_month(month)
    return calendar.monthrange(y, m)[1]
