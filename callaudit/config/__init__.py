"""Configuration: one TOML file, checked key by key, resolved once into typed, frozen records.

Found by `--config FILE`, else $CALLAUDIT_CONFIG, else ./callaudit.toml if present, else the defaults.
An unknown or ill-typed key stops the program with one line naming the key, the file and the
expected type: a typo in a threshold must never silently fall back to a default that fails people.
At load, paths become absolute (relative ones are read from the config file's folder) and the
environment's overrides ($CALLAUDIT_SIP_PASSWORD, $CALLAUDIT_DB) are applied, so no later stage
looks at the environment or the file's location again. This package imports nothing of callaudit's
but `errors`.
"""

from __future__ import annotations

from callaudit.config.loading import Config, defaults, load
from callaudit.config.sections import COMPUTE_TYPES, LANGUAGES, ROLES, SECTIONS, RosterAgent

__all__ = ["Config", "defaults", "load", "COMPUTE_TYPES", "LANGUAGES", "ROLES", "SECTIONS", "RosterAgent"]
