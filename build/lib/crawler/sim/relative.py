"""Relative times as the two site generations print them.

The parser relies on exactly these thresholds (diff = now - t, seconds, sub-second precision):
< 10 s "just now"; < 60 seconds; < 1 h minutes; < 1 d hours; < 7 d days; < 30 d weeks
(days // 7); < 365 d months (days // 30, at least 1); else years (days // 365).
"""

from __future__ import annotations

import math

_LEGACY_ONE = {"minute": "1 minute ago", "hour": "1 hour ago", "day": "1 day ago"}
_REDESIGN_ONE = {"minute": "a minute ago", "hour": "an hour ago", "day": "yesterday"}
_REDESIGN_UNIT = {"minute": "mins", "hour": "hrs"}


def _unit(diff: float) -> tuple[int, str]:
    if diff < 60:
        return math.floor(diff), "second"
    if diff < 3600:
        return math.floor(diff / 60), "minute"
    if diff < 86400:
        return math.floor(diff / 3600), "hour"
    days = math.floor(diff / 86400)
    if days < 7:
        return days, "day"
    if days < 30:
        return days // 7, "week"
    if days < 365:
        return max(1, days // 30), "month"
    return days // 365, "year"


def relative(diff: float, *, redesign: bool = False) -> str:
    """`diff` seconds ago as text. A negative diff (clock skew of a few ms) is "just now"."""
    if diff < 10:
        return "just now"
    n, unit = _unit(diff)
    if n == 1 and unit in _LEGACY_ONE:
        return (_REDESIGN_ONE if redesign else _LEGACY_ONE)[unit]
    if redesign and unit in _REDESIGN_UNIT:
        return f"{n} {_REDESIGN_UNIT[unit]} ago"
    return f"{n} {unit}{'' if n == 1 else 's'} ago"
