"""Where the default rule and requests packs are (a module of its own: a report finds the requests pack's
topic titles without importing the rule kinds)."""

from __future__ import annotations

from pathlib import Path


def rules_dir() -> Path:
    """The default packs: rules/ of a checkout (the editable source of truth), else the copy a wheel
    carries as package data (see setup.py)."""
    checkout = Path(__file__).resolve().parents[2] / "rules"
    if (checkout / "client-service.ru.toml").is_file():
        return checkout
    return Path(__file__).resolve().parent / "default_rules"
