"""Speech to text, per party: speech activity (vad), Whisper words (transcribe), who is the agent on
a mono call (roles, from cues the scorer passes down), the records a transcript is made of (records),
and the live transcript of a listen-in (live).

May import: audio, text, models, config, errors. Rule packs are never read here: what the rules want
to know arrives as RoleCues and LiveRules from the analysis layer.
"""
