"""What people read: HR data of a period (hrdata), HTML / PDF / CSV / JSON reports (html_report, files), the
terminal scorecard and batch progress (scorecard, progress), calibration against human QA (calibrate),
and masking of card, phone and passport numbers in everything shown (redact).

May import: jobs, store, analysis, audio, config, errors.
"""
