"""Loads and validates `releasegate:freeze` into `FreezeWindow`s (absent or empty: none).

A list of windows, each either absolute or weekly:

    - {start: "2026-12-20T00:00:00Z", end: "2027-01-04T00:00:00+01:00", reason: year-end}
    - {weekly: {days: [fri], from: "16:00", to: "24:00"}, timeZone: Europe/Berlin,
       reason: no Friday-evening deploys}

Every problem is recorded with its path (`freeze[1].weekly.days`); an unknown key names the
nearest known one. What a window means (midnight, DST) is components/freeze_window.py's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from components.freeze_window import DAY_MINUTES, WEEKDAYS, FreezeWindow, WeeklyRule, parse_clock
from infra.config_reader import Problems, Reader, nearest, record_schema
from infra.settings import KEY_FREEZE, NAMESPACE

WINDOW_KEYS = {"start", "end", "reason", "weekly", "timeZone"}
WEEKLY_KEYS = {"days", "from", "to"}
INSTANT = "an ISO 8601 time with an offset or Z, e.g. 2026-12-20T00:00:00Z"
ZONE = "an IANA time zone such as Europe/Berlin or UTC"
CLOCK = 'a time of day "HH:MM" in quotes, 00:00 to 23:59 ("to" may be "24:00")'


def load_freeze(problems: Problems, text: str | None) -> tuple[FreezeWindow, ...]:
    """The stack's freeze windows; () when the key is absent or empty."""
    if text is None:
        return ()
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if value in ({}, [], None):  # Pulumi.yaml's default, or an emptied key
        return ()
    if not isinstance(value, list):
        problems.add(KEY_FREEZE, value, "a list of windows: {start, end, reason} or "
                     "{weekly: {days, from, to}, timeZone, reason}")  # fmt: skip
        return ()
    windows = []
    for index, item in enumerate(value):
        window = _window(problems, f"{KEY_FREEZE}[{index}]", item)
        if window is not None:
            windows.append(window)
    return tuple(windows)


def _window(problems: Problems, key: str, item: object) -> FreezeWindow | None:
    if not isinstance(item, dict):
        problems.add(key, item, "an object: {start, end, reason} or {weekly, timeZone, reason}")
        return None
    before = len(problems.items)
    r = Reader(problems, key, item, WINDOW_KEYS)
    reason = r.string("reason", None, None, "why deploys are frozen (named when one is refused)")
    if reason is not None and not reason.strip():
        problems.add(f"{key}.reason", reason, "a non-empty text")
    if "reason" not in item:
        problems.raw(f"{NAMESPACE}:{key}.reason: missing; a freeze window needs the reason a "
                     "refused deploy names")  # fmt: skip
    start_text = r.string("start", None, None, INSTANT)
    end_text = r.string("end", None, None, INSTANT)
    zone = r.string("timeZone", "UTC", None, ZONE) or "UTC"
    weekly_raw = item.get("weekly")
    weekly = _weekly(problems, f"{key}.weekly", weekly_raw if weekly_raw is not None else {})
    if weekly_raw is not None:
        if weekly_raw == {}:
            problems.add(f"{key}.weekly", weekly_raw, "an object with days, from and to")
        for name in ("start", "end"):
            if name in item:
                problems.raw(f"{NAMESPACE}:{key}.{name}: set on a weekly window; allowed: "
                             "either start and end, or weekly, in one window")  # fmt: skip
        _check_zone(problems, f"{key}.timeZone", zone)
        if len(problems.items) != before or weekly is None or not reason:
            return None
        return FreezeWindow(reason=reason, weekly=weekly, time_zone=zone)
    if "timeZone" in item:
        problems.raw(f"{NAMESPACE}:{key}.timeZone: set on a window with start and end, whose "
                     "times carry their own offset; allowed: only with weekly")  # fmt: skip
    start = _instant(problems, f"{key}.start", start_text, "start" in item)
    end = _instant(problems, f"{key}.end", end_text, "end" in item)
    if start is not None and end is not None and end <= start:
        problems.add(f"{key}.end", end_text, f"a time after start ({start_text})")
    if len(problems.items) != before or start is None or end is None or not reason:
        return None
    return FreezeWindow(reason=reason, start=start, end=end)


def _instant(problems: Problems, key: str, text: str | None, given: bool) -> datetime | None:
    if text is None:
        if not given:
            problems.raw(f"{NAMESPACE}:{key}: missing; allowed: {INSTANT} (or a weekly window)")
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        problems.add(key, text, INSTANT)
        return None
    if parsed.tzinfo is None:
        problems.add(key, text, f"{INSTANT}: a time without an offset is ambiguous")
        return None
    return parsed


def _check_zone(problems: Problems, key: str, zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(key, zone, ZONE, nearest(zone, available_timezones()))


def _weekly(problems: Problems, key: str, raw: object) -> WeeklyRule | None:
    if not isinstance(raw, dict):
        problems.add(key, raw, 'an object: {days: [mon, ...], from: "HH:MM", to: "HH:MM"}')
        return None
    Reader(problems, key, raw, WEEKLY_KEYS)
    record_schema(key, "days", {
        "type": "array", "minItems": 1, "items": {"enum": list(WEEKDAYS)},
        "description": "the days a window starts on: " + ", ".join(WEEKDAYS),
    })  # fmt: skip
    record_schema(key, "from", {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$",
                                "description": "local start time HH:MM"})  # fmt: skip
    record_schema(key, "to", {"type": "string", "pattern": r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$",
                              "description": "local end time HH:MM; not after from: the next "
                              "day (crosses midnight); 24:00 is the end of the day"})  # fmt: skip
    if not raw:  # an absolute window: the Reader above only recorded the schema
        return None
    before = len(problems.items)
    days = _days(problems, f"{key}.days", raw.get("days"))
    first = _clock(problems, f"{key}.from", raw.get("from"), allow_end=False)
    last = _clock(problems, f"{key}.to", raw.get("to"), allow_end=True)
    if first is not None and last is not None and first == last:
        problems.add(f"{key}.to", raw.get("to"), f"a time other than from ({raw.get('from')}): "
                     "for a whole day use from \"00:00\" to \"24:00\"")  # fmt: skip
    if len(problems.items) != before or first is None or last is None:
        return None
    return WeeklyRule(days=days, start_minute=first, end_minute=last)


def _days(problems: Problems, key: str, value: object) -> tuple[str, ...]:
    allowed = "a non-empty list of days: " + ", ".join(WEEKDAYS)
    if value is None:
        problems.raw(f"{NAMESPACE}:{key}: missing; allowed: {allowed}")
        return ()
    if not isinstance(value, list) or not value:
        problems.add(key, value, allowed)
        return ()
    days: list[str] = []
    for index, day in enumerate(value):
        name = day.lower() if isinstance(day, str) else day
        if name not in WEEKDAYS:
            problems.add(f"{key}[{index}]", day, ", ".join(WEEKDAYS),
                         nearest(str(day)[:3], WEEKDAYS))  # fmt: skip
        elif name not in days:
            days.append(name)
    return tuple(days)


def _clock(problems: Problems, key: str, value: object, *, allow_end: bool) -> int | None:
    if value is None:
        problems.raw(f"{NAMESPACE}:{key}: missing; allowed: {CLOCK}")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 readers (PyYAML) read an unquoted 22:00 as the base-60 number 1320.
        problems.add(key, value, f"{CLOCK}; an unquoted 22:00 reads as a number in YAML 1.1")
        return None
    minutes = parse_clock(value) if isinstance(value, str) else None
    if minutes is None or (minutes == DAY_MINUTES and not allow_end):
        problems.add(key, value, CLOCK)
        return None
    return minutes
