"""The workspace (`callaudit serve`): a Starlette app over the store where HR reviews flagged calls,
agents see and appeal their own verdicts, and every decision has an authenticated author. Routes by
concern: login (doors), calls (queue, call page, audio, decisions), people (agents, department,
listen-ins, view log, account), calibration; auth (sessions, CSRF, roles), render (templates, headers),
media (ranged audio), charts (pygal), i18n (ru/en).

May import: reports, jobs, store, analysis, audio, config, errors. Nothing imports it but cli.
"""
