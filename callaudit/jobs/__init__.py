"""Work that runs unattended or after a call: the nightly batch (batch: find, read, hash and queue
recordings), the scoring workers (workers), the PostgreSQL queue on procrastinate (pgqueue), the
records and summaries of runs (runs), and the audit of listen-ins (audit).

May import: store, analysis, transcript, sources, audio, text, config, errors.
"""
