"""Which time zone names a job may use: IANA names of places, the same on every host.

`zoneinfo` opens any file of the tz database by name, so some names load that no job means:
`localtime` is each machine's own zone (the scheduler and a worker would disagree on a team's
day), `right/...` zones count leap seconds (their clocks run ~27 s from every other's), and
`Factory` / `posixrules` are the database's own entries, not places.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_NOT_PLACES = {
    "localtime": "this machine's own zone, which differs between hosts",
    "Factory": "the tz database's placeholder, not a place",
    "posixrules": "the tz database's default rules, not a place",
}


def zone_problem(name: object) -> str | None:
    """None when `name` is a usable zone; else why not, in words that follow the name."""
    if not isinstance(name, str) or not name.strip():
        return "not a time zone name"
    if name in _NOT_PLACES:
        return _NOT_PLACES[name]
    if name.startswith("right/"):
        return "a leap-second clock, ~27 s off every other clock"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a folder: OSError
        return "not in the tz database"
    return None
