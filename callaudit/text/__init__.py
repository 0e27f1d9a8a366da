"""Words as the rules read them: normalisation (case, ё→е, punctuation), stems, and phrase matching
that survives ASR slips and Russian morphology. Knows no calls, no rules, no audio.

May import: errors only.
"""
