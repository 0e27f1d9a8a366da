"""callaudit: listen in on, record, transcribe and score client-service phone calls."""

__version__ = "0.1.0"
