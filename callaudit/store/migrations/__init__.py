"""Alembic migrations of the call store; run by callaudit.store.db.upgrade (no alembic.ini needed)."""
