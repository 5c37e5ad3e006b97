"""Deploy freeze windows (`releasegate:freeze`): when a change to a pin is refused.

Two kinds, as release calendars have them: an absolute window (`start`, `end`: a year-end
freeze) and a weekly one (`weekly: {days, from, to}` in a time zone: no deploys on Friday
evenings). Times are compared as instants (UTC), so a weekly window in a zone with daylight
saving time keeps its wall-clock times on the day the clocks change:

- a weekly window starts on each of its `days` at `from`, local time, and ends at `to` on the
  same day, or on the next day when `to` is not after `from` (22:00 to 06:00 crosses midnight
  and belongs to the day it starts on); `to` may be "24:00", the end of the day;
- a local time that happens twice (the hour the clocks go back) means its first occurrence;
  one that does not exist (the hour the clocks skip) means that time on the clock before the
  change (02:30 in Europe/Berlin on the spring-forward day is 03:30 CEST): PEP 495's `fold=0`,
  which `zoneinfo` applies (docs.python.org, zoneinfo: "Using ZoneInfo" and datetime's `fold`).

Windows are plain data, serialised for the FreezeGuard's inputs (`as_input` / `from_input`),
so the provider process rebuilds exactly what the program checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in `weekly.days`, in `date.weekday()` order (Monday is 0)."""
DAY_MINUTES = 24 * 60
CHAIN_LIMIT = 14
"""How many back-to-back occurrences `active_until` follows (a window on every day, all day,
never ends: it reports the end of the last one followed)."""


def parse_clock(text: str) -> int | None:
    """Minutes after midnight of "HH:MM" (00:00 to 24:00), or None when not such a time."""
    hours, sep, minutes = text.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        return None
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > DAY_MINUTES:
        return None
    return value


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def show_time(when: datetime) -> str:
    """A moment as messages show it: UTC, to the second, ending in Z."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class WeeklyRule:
    days: tuple[str, ...]
    """Day names from WEEKDAYS: the days an occurrence starts on."""
    start_minute: int
    """`from`, minutes after local midnight (0 to 1439)."""
    end_minute: int
    """`to`, minutes after local midnight (0 to 1440); not after `from`: the next day."""

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute

    def describe(self) -> str:
        ends = clock(self.end_minute) + (" the next day" if self.crosses_midnight else "")
        return f"weekly {','.join(self.days)} {clock(self.start_minute)} to {ends}"


@dataclass(frozen=True)
class FreezeWindow:
    """One freeze window: absolute (`start`, `end`) or weekly (`weekly` in `time_zone`)."""

    reason: str
    start: datetime | None = None
    end: datetime | None = None
    weekly: WeeklyRule | None = None
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if (self.weekly is None) == (self.start is None or self.end is None):
            raise ValueError("a freeze window is either absolute (start, end) or weekly")

    @property
    def absolute(self) -> tuple[datetime, datetime] | None:
        """(start, end) of an absolute window; None for a weekly one."""
        if self.start is None or self.end is None:
            return None
        return self.start, self.end

    # -- when ---------------------------------------------------------------------------------
    def occurrence_at(self, when: datetime) -> tuple[datetime, datetime] | None:
        """The (start, end) of the occurrence in effect at `when` (an aware datetime), or None
        when the window is not active then. The end is exclusive."""
        moment = _aware(when)
        absolute = self.absolute
        if absolute is not None:
            return absolute if absolute[0] <= moment < absolute[1] else None
        local = moment.astimezone(ZoneInfo(self.time_zone)).date()
        for day in (local - timedelta(days=1), local):
            span = self._span(day)
            if span is not None and span[0] <= moment < span[1]:
                return span
        return None

    def active_at(self, when: datetime) -> bool:
        """True when a pin change at `when` (an aware datetime) falls inside this window."""
        return self.occurrence_at(when) is not None

    def active_until(self, when: datetime) -> datetime | None:
        """When the freeze that is active at `when` ends, following back-to-back occurrences
        (fri 18:00-24:00 and sat 00:00-24:00 end on Sunday); None when not active."""
        span = self.occurrence_at(when)
        if span is None:
            return None
        end = span[1]
        for _ in range(CHAIN_LIMIT):
            following = self.occurrence_at(end)
            if following is None:
                break
            end = following[1]
        return end

    def next_start(self, after: datetime) -> tuple[datetime, datetime] | None:
        """The first occurrence starting after `after`: (start, end), or None (an absolute
        window that already started)."""
        moment = _aware(after)
        absolute = self.absolute
        if absolute is not None:
            return absolute if absolute[0] > moment else None
        local = moment.astimezone(ZoneInfo(self.time_zone)).date()
        for offset in range(9):
            span = self._span(local + timedelta(days=offset))
            if span is not None and span[0] > moment:
                return span
        return None

    def _span(self, day: date) -> tuple[datetime, datetime] | None:
        """The occurrence starting on local `day`, as UTC instants; None on other days."""
        rule = self.weekly
        if rule is None or WEEKDAYS[day.weekday()] not in rule.days:
            return None
        zone = ZoneInfo(self.time_zone)
        start = _local(day, rule.start_minute, zone)
        end_day = day + timedelta(days=1) if rule.crosses_midnight else day
        return start, _local(end_day, rule.end_minute, zone)

    # -- words ---------------------------------------------------------------------------------
    def describe(self) -> str:
        """`'<reason>' (<rule>)`, as messages name the window."""
        absolute = self.absolute
        if absolute is not None:
            rule = f"{show_time(absolute[0])} to {show_time(absolute[1])}"
        else:
            rule = f"{self.weekly.describe() if self.weekly else 'weekly'} {self.time_zone}"
        return f"{self.reason!r} ({rule})"

    # -- the FreezeGuard's inputs ---------------------------------------------------------------
    def as_input(self) -> dict[str, Any]:
        absolute = self.absolute
        if absolute is not None or self.weekly is None:
            start, end = absolute or (None, None)
            return {"reason": self.reason, "start": start and start.isoformat(),
                    "end": end and end.isoformat()}  # fmt: skip
        return {
            "reason": self.reason,
            "weekly": {
                "days": list(self.weekly.days),
                "from": clock(self.weekly.start_minute),
                "to": clock(self.weekly.end_minute),
            },
            "time_zone": self.time_zone,
        }

    @classmethod
    def from_input(cls, data: Mapping[str, Any]) -> FreezeWindow:
        """The window `as_input` serialised; ValueError (naming what) when it is not one."""
        reason = data.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a freeze window needs a reason")
        weekly = data.get("weekly")
        if weekly is None:
            start, end = _instant(data.get("start")), _instant(data.get("end"))
            if end <= start:
                raise ValueError(f"window {reason!r}: end is not after start")
            return cls(reason=reason, start=start, end=end)
        if not isinstance(weekly, Mapping):
            raise ValueError(f"window {reason!r}: weekly is not an object")
        days = weekly.get("days")
        if not isinstance(days, list | tuple) or not days or any(d not in WEEKDAYS for d in days):
            raise ValueError(f"window {reason!r}: days must be names from {', '.join(WEEKDAYS)}")
        first = parse_clock(str(weekly.get("from")))
        last = parse_clock(str(weekly.get("to")))
        if first is None or last is None or first in (DAY_MINUTES, last):
            raise ValueError(f"window {reason!r}: from/to must be different HH:MM times")
        zone = str(data.get("time_zone") or "UTC")
        ZoneInfo(zone)  # raises ZoneInfoNotFoundError (a KeyError) for an unknown zone
        return cls(reason=reason, weekly=WeeklyRule(tuple(days), first, last), time_zone=zone)


def active_windows(windows: tuple[FreezeWindow, ...] | list[FreezeWindow],
                   when: datetime) -> list[FreezeWindow]:  # fmt: skip
    return [w for w in windows if w.active_at(when)]


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{when!r} has no time zone: compare freeze windows with aware times")
    return when


def _instant(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 8601 time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no offset (add Z or +HH:MM)")
    return parsed


def _local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """Local wall time `minute` after midnight of `day` in `zone`, as a UTC instant. 24:00 is
    the next day's midnight. Converting to UTC here matters: aware datetimes sharing a tzinfo
    compare by wall time, ignoring DST (Python datetime docs, "aware comparisons")."""
    if minute == DAY_MINUTES:
        day, minute = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return wall.astimezone(UTC)
