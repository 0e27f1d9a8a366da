"""The rule kinds a pack can use, one module each (see base.Kind); adding a kind is one module and
one entry here. A pack's rules are checked against their kind's parameters when the pack loads."""

from __future__ import annotations

from callaudit.analysis.kinds import (
                                      intent_forbidden,
                                      intent_required,
                                      intent_response,
                                      max_gap,
                                      max_silence,
                                      overlap_count,
                                      phrase_forbidden,
                                      phrase_required,
                                      request_fulfilment,
                                      trigger_response,
)
from callaudit.analysis.kinds.base import PHRASES, REQUIRED, SPEAKERS, Kind

KINDS: dict[str, Kind] = {m.KIND.name: m.KIND for m in (phrase_required, phrase_forbidden, max_gap, max_silence,
                                                       overlap_count, trigger_response, request_fulfilment,
                                                       intent_required, intent_forbidden, intent_response)}

__all__ = ["KINDS", "Kind", "PHRASES", "REQUIRED", "SPEAKERS"]
