"""Judging a call: rule packs (rulepack) and their rule kinds (kinds/), the timeline of a transcript
(timeline), findings with evidence (findings, judge), the score and flag (scoring), the whole path for
one recording (pipeline: Scorer -> ScoredCall), what the layers below are told about a pack (cues),
and the one JSON contract (contract).

May import: transcript, audio, text, models, config, errors.
"""
