"""Sound in: decoding any common recording into channels at 16 kHz (decode), and telling the two
voices of a mono mix apart (diarize). Nothing here knows words or rules.

May import: config, errors, digest.
"""
