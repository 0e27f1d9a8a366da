"""[requests]'s working calendar and pack path: what a report needs of the requests settings, without the
extraction's imports (numpy, stemmers, dateparser: half a second of a report's start)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from callaudit.analysis.request_pack import default_pack_path
from callaudit.analysis.workhours import WorkingHours
from callaudit.config import Config
from callaudit.errors import CallauditError


def working_hours(cfg: Config) -> WorkingHours:
    """[requests]'s working calendar, or one line naming the bad value."""
    r = cfg.requests
    try:
        return WorkingHours.from_settings(r.timezone, r.workday_start, r.workday_end, r.lunch_start, r.lunch_end,
                                          r.workdays, r.holidays)
    except ValueError as e:
        raise CallauditError(f"{cfg.source}: [requests] {e}") from None


def pack_path(cfg: Config) -> Callable[[str], Path]:
    return lambda lang: Path(cfg.requests.pack) if cfg.requests.pack else default_pack_path(lang)
