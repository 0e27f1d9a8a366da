"""Alembic migrations of the call store; run by callaudit.store.upgrade (no alembic.ini needed)."""
