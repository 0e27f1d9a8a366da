"""The call store (SQLite or PostgreSQL through SQLAlchemy 2, migrated by Alembic): its tables (schema),
opening it (db), saving scored calls (verdicts), the work queue (worklist; queue_rows reads the
PostgreSQL queue's procrastinate jobs), HR decisions (reviews), and the questions commands ask (queries).

May import: analysis (the records it saves), config, errors. Never jobs, reports, web or cli.
"""
