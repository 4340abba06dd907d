"""Dates and ranges in words ("last summer", "next month", "Q3 2024") resolved against `today`."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

_MONTHS: Final = {name.lower(): i for i, name in enumerate(calendar.month_name) if name} | {
    name.lower(): i for i, name in enumerate(calendar.month_abbr) if name
}
_UNIT_DAYS: Final = {"day": 1, "week": 7, "month": 30, "year": 365}
_SEASONS: Final = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11)}
_MONTH_RE: Final = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS: Final = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WEEKDAY_RE: Final = "|".join(_WEEKDAYS)


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of event dates; either end may be open."""

    start: date | None
    end: date | None

    def as_time_range(self) -> dict[str, str | None]:
        """The shape semantic_query takes (ISO strings)."""
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
        }


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _year_of(text: str, default: int) -> int:
    found = re.search(r"\b(19|20)\d{2}\b", text)
    return int(found.group(0)) if found else default


def _weekend(today: date, weeks_ahead: int) -> DateRange:
    # the coming Saturday (today when it is Saturday; yesterday's when it is Sunday)
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    if today.weekday() == 6:
        saturday = today - timedelta(days=1)
    saturday += timedelta(weeks=weeks_ahead)
    return DateRange(saturday, saturday + timedelta(days=1))


def _weekday(today: date, weekday: int, word: str | None) -> DateRange:
    """ "next Friday" is the first Friday after today (a week on when today is Friday);
    "this Friday" and a bare "Friday" include today."""
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and word in ("next", "coming"):
        ahead = 7
    day = today + timedelta(days=ahead)
    return DateRange(day, day)


def _explicit(text: str, today: date) -> list[date]:
    found = [date.fromisoformat(m) for m in re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text)]
    pattern = rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+((?:19|20)\d{{2}}))?"
    for month, day, year in re.findall(pattern, text):
        try:
            found.append(date(int(year or today.year), _MONTHS[month], int(day)))
        except ValueError:
            continue
    return sorted(found)


def parse_date_range(text: str, today: date) -> DateRange | None:
    """The date range a message names, or None; relative words count from `today`."""
    t = text.lower()
    days = _explicit(t, today)
    if len(days) >= 2:
        return DateRange(days[0], days[-1])
    if len(days) == 1:
        if re.search(r"\b(since|after|from)\b", t):
            return DateRange(days[0], None)
        if re.search(r"\b(before|until|by)\b", t):
            return DateRange(None, days[0])
        return DateRange(days[0], days[0])
    rolling = (
        r"\b(the\s+)?(last|past|previous|next|coming)\s+(\d+|few|couple of)?\s*"
        r"(day|week|month|year)s?\b"
    )
    if m := re.search(rolling, t):
        # "last month" is the calendar month; "the last month" and "last 3 months" roll from today
        the, word, amount, unit = m.groups()
        count = {"few": 3, "couple of": 2, None: 1}.get(amount)
        n = count if count is not None else int(amount)
        forward = word in ("next", "coming")
        if amount is None and the is None and word in ("last", "previous", "next", "coming"):
            if forward:
                return (
                    _calendar_next(unit, today)
                    if unit != "day"
                    else DateRange(today, today + timedelta(days=1))
                )
            if unit != "day":
                return _calendar_previous(unit, today)
        span = timedelta(days=_UNIT_DAYS[unit] * n)
        return DateRange(today, today + span) if forward else DateRange(today - span, today)
    if m := re.search(rf"\b(?:(this|next|coming|on)\s+)?({_WEEKDAY_RE})\b", t):
        return _weekday(today, _WEEKDAYS[m.group(2)], m.group(1))
    if m := re.search(r"\b(this|next)\s+weekend\b", t):
        return _weekend(today, 1 if m.group(1) == "next" else 0)
    if m := re.search(r"\b(this|last|next)\s+(spring|summer|fall|autumn)\b", t):
        first, last = _SEASONS[m.group(2)]
        year = today.year
        if m.group(1) == "last" and today < _month_end(year, last):
            year -= 1
        if m.group(1) == "next" and today > date(year, first, 1):
            year += 1
        return DateRange(date(year, first, 1), _month_end(year, last))
    if m := re.search(r"\bq([1-4])\b", t):
        quarter = int(m.group(1))
        year = _year_of(t, today.year)
        if "last year" in t:
            year = today.year - 1
        return DateRange(date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter))
    if re.search(r"\bthis month\b", t):
        return DateRange(date(today.year, today.month, 1), _month_end(today.year, today.month))
    if re.search(r"\b(this year|year to date|ytd)\b", t):
        return DateRange(date(today.year, 1, 1), date(today.year, 12, 31))
    if m := re.search(rf"\bin\s+({_MONTH_RE})\b(?:\s+((?:19|20)\d{{2}}))?", t):
        month = _MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else today.year
        return DateRange(date(year, month, 1), _month_end(year, month))
    years = [int(y) for y in re.findall(r"\b((?:19|20)\d{2})\b", t)]
    if years:
        if re.search(r"\b(since|after)\b", t):
            return DateRange(date(min(years), 1, 1), today)
        return DateRange(date(min(years), 1, 1), date(max(years), 12, 31))
    return None


def _calendar_previous(unit: str, today: date) -> DateRange:
    if unit == "year":
        return DateRange(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))
    if unit == "month":
        first = _add_months(today, -1)
        return DateRange(first, _month_end(first.year, first.month))
    monday = today - timedelta(days=today.weekday() + 7)
    return DateRange(monday, monday + timedelta(days=6))


def _calendar_next(unit: str, today: date) -> DateRange:
    if unit == "year":
        return DateRange(date(today.year + 1, 1, 1), date(today.year + 1, 12, 31))
    if unit == "month":
        first = _add_months(today, 1)
        return DateRange(first, _month_end(first.year, first.month))
    monday = today + timedelta(days=7 - today.weekday())
    return DateRange(monday, monday + timedelta(days=6))
