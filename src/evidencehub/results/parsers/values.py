"""Turning the attribute strings of result files into numbers, times and names.

Every function here is lenient: a value it cannot read becomes ``None`` rather
than an error, because a wrong duration or timestamp must not cost the user
the results of a whole file.
"""

from __future__ import annotations

import datetime as dt
import math
import re

# A duration written as a plain integer this large cannot be seconds (over 11
# days for one test); container-structure-test writes nanoseconds like this.
_NANOSECOND_THRESHOLD = 1_000_000.0
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:[.,]\d+)?)$")
_NUNIT2_DATE_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y %H:%M:%S",
)


def seconds(text: str | None) -> float | None:
    """A duration in seconds from ``"1.5"``, ``"1,5"`` (comma decimals) or ``"1e-05"``; None when unreadable."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            value = float(text.strip().replace(",", "."))
        except ValueError:
            return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def duration_ms(text: str | None) -> float | None:
    """``time`` (seconds) as milliseconds, with integer nanosecond values recognised."""
    value = seconds(text)
    if value is None:
        return None
    if value >= _NANOSECOND_THRESHOLD and text is not None and text.strip().isdigit():
        return value / 1_000_000.0
    return value * 1000.0


def timespan_ms(text: str | None) -> float | None:
    """A .NET TimeSpan (``"00:00:00.1084258"``, ``"1.02:03:04"``) as milliseconds."""
    if not text:
        return None
    match = _TIMESPAN.match(text.strip())
    if match is None:
        return None
    days, hours, minutes, secs = match.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs.replace(",", "."))
    return total * 1000.0


def as_int(text: str | None) -> int | None:
    """An integer attribute; tolerates ``"3.0"`` and surrounding blanks, None when unreadable."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            value = float(text.strip().replace(",", "."))
        except ValueError:
            return None
        return int(value) if math.isfinite(value) and value.is_integer() else None


def timestamp(text: str | None) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; a timestamp without offset is taken as UTC."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return _as_utc(value)


def date_and_time(date: str | None, time: str | None) -> dt.datetime | None:
    """NUnit 2's separate ``date`` and ``time`` attributes as one UTC datetime."""
    if not date or not time:
        return None
    joined = f"{date.strip()} {time.strip()}"
    for pattern in _NUNIT2_DATE_TIME_FORMATS:
        try:
            return _as_utc(dt.datetime.strptime(joined, pattern))
        except ValueError:
            continue
    return timestamp(f"{date.strip()}T{time.strip()}")


def epoch(text: str | None) -> dt.datetime | None:
    """Seconds since the Unix epoch (CTest's ``StartTestTime``) as a UTC datetime."""
    value = seconds(text)
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def plus_ms(start: dt.datetime | None, duration: float | None) -> dt.datetime | None:
    """``start`` moved on by ``duration`` milliseconds (None when either is unknown)."""
    if start is None or duration is None:
        return None
    try:
        return start + dt.timedelta(milliseconds=duration)
    except OverflowError:
        return None


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def base_name(path: str | None) -> str | None:
    """The last component of a Windows or POSIX path (``C:\\bin\\Tests.dll`` → ``Tests.dll``)."""
    if not path:
        return None
    stripped = path.strip().rstrip("/\\")
    name = stripped.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name or None


def strip_prefix(name: str, prefix: str | None) -> str:
    """``name`` without a leading ``prefix.`` (``Ns.Class.Test`` with prefix ``Ns.Class`` → ``Test``)."""
    if prefix and len(name) > len(prefix) + 1 and name.startswith(prefix) and name[len(prefix)] == ".":
        return name[len(prefix) + 1 :]
    return name
