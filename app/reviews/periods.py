"""Japanese fiscal periods: the fiscal year starts on 1 April; Q1 = April–June … Q4 = January–March
of the following calendar year. An incident belongs to the period of its detection date in
Asia/Tokyo."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR = 1990, 2100


@dataclass(frozen=True)
class Period:
    fiscal_year: int
    quarter: int | None = None  # None: the whole fiscal year

    def __post_init__(self):
        if self.quarter is not None and self.quarter not in (1, 2, 3, 4):
            raise ValueError("quarter must be 1–4")

    @property
    def first_day(self) -> dt.date:
        month = 4 + 3 * ((self.quarter or 1) - 1)
        return dt.date(self.fiscal_year + (month - 1) // 12, (month - 1) % 12 + 1, 1)

    @property
    def last_day(self) -> dt.date:
        """Inclusive."""
        months = 3 if self.quarter else 12
        month = self.first_day.month - 1 + months
        return dt.date(self.first_day.year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)

    @property
    def starts_at(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), TOKYO).astimezone(dt.UTC)

    @property
    def ends_at(self) -> dt.datetime:
        """Exclusive: midnight in Tokyo after the last day."""
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), TOKYO).astimezone(dt.UTC)

    @property
    def label(self) -> str:
        """令和 is not used: fiscal years are written as 2026年度 in the seeds' era-neutral style."""
        return f"{self.fiscal_year}年度" + (f" 第{self.quarter}四半期" if self.quarter else "")

    @property
    def slug(self) -> str:
        return f"{self.fiscal_year}" + (f"-q{self.quarter}" if self.quarter else "")

    def previous(self) -> Period:
        if self.quarter is None:
            return Period(self.fiscal_year - 1)
        return Period(self.fiscal_year - 1, 4) if self.quarter == 1 else Period(self.fiscal_year, self.quarter - 1)


def period_of(moment: dt.datetime) -> Period:
    """The fiscal quarter of a moment, by its date in Asia/Tokyo."""
    day = moment.astimezone(TOKYO).date()
    fiscal_year = day.year if day.month >= 4 else day.year - 1
    return Period(fiscal_year, (day.month - 4) % 12 // 3 + 1)
