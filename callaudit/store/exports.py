"""The CSV and JSON exports' rows, made in SQL: a month's export is 100 000 rows, so the database writes
each row's cells (CSV) or its whole JSON line, and Python only copies them to the file. The calls are
the report's (store.hrqueries: the period, agent and department; failed findings that count)."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import Select, String, Text, case, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.types import BigInteger

from callaudit.store.hrqueries import AGENT_KEY, STREAM_BATCH, WHEN, Scope, _calls, _dialect, counting, in_id_order
from callaudit.store.schema import AgentRow, CallRow, FindingRow, ScoreRow

# A cell beginning with one of these is a formula to Excel and LibreOffice: reports/files.safe_cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso_time(s: Session):
    """SQL: a call's time as datetime.isoformat() writes it in UTC ('2026-11-03T09:12:33+00:00', microseconds
    only when there are some)."""
    if _dialect(s) == "postgresql":
        utc = func.timezone("UTC", WHEN)
        return (func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
                + case((func.extract("microseconds", utc) % 1000000 == 0, ""), else_=func.to_char(utc, ".US"))
                + "+00:00")
    # SQLite holds it as SQLAlchemy wrote it: 'YYYY-MM-DD HH:MM:SS.ffffff', UTC.
    w = cast(WHEN, String)
    return (func.substr(w, 1, 10) + "T"
            + case((func.substr(w, 20).in_(["", ".000000"]), func.substr(w, 12, 8)), else_=func.substr(w, 12))
            + "+00:00")


def _float_text(s: Session, x):
    """SQL: a float as Python's repr writes it (scores have one decimal): PostgreSQL writes 100.0 as '100'."""
    if _dialect(s) == "postgresql":
        return case((x == func.trunc(x), cast(cast(x, BigInteger), String) + ".0"), else_=cast(x, String))
    return cast(x, String)


def _json_string(s: Session, x):
    """SQL: text as a JSON string (non-ASCII characters as they are, as json.dumps(ensure_ascii=False))."""
    if _dialect(s) == "postgresql":
        return cast(func.to_json(cast(x, Text)), Text)
    return func.json_quote(x)


def _safe(x):
    """SQL: reports/files.safe_cell: text a spreadsheet would run as a formula gets a leading apostrophe."""
    return case((func.substr(x, 1, 1).in_(FORMULA_START), "'" + x), else_=x)


def _ordered_failed_rules(s: Session, picked: Select, safe: bool):
    """(SQL for the current score's counted failed rules joined by ';' in position order, NULL when none,
    `_safe` applied with `safe`; the FROM clause to join for it, or None). PostgreSQL: grouped once for the
    picked scores and joined (see report_calls); SQLite (3.40 has no ORDER BY in group_concat): a subquery
    per score over its rules in order (as ix_findings_failed holds them), escaped inside it, where the
    aggregate is computed once however often the CASE names it."""
    f = aliased(FindingRow)
    if _dialect(s) == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        failed = (select(f.score_id, func.string_agg(f.rule, aggregate_order_by(literal_column("';'"), f.position))
                         .label("rules")).where(f.score_id.in_(picked), counting(f, s)).group_by(f.score_id)
                  .subquery("failed"))
        return (_safe(failed.c.rules) if safe else failed.c.rules), failed
    rules = (select(f.rule).where(f.score_id == ScoreRow.id, counting(f, s)).order_by(f.position)
             .correlate(ScoreRow).subquery())
    joined = func.group_concat(rules.c.rule, ";")
    return select(_safe(joined) if safe else joined).scalar_subquery(), None


def _export(s: Session, scope: Scope, flagged: bool, cols_of, safe: bool) -> Select:
    picked = _calls(scope, ScoreRow.id)
    if flagged:
        picked = picked.where(ScoreRow.flagged == True)  # noqa: E712
    rules, failed = _ordered_failed_rules(s, picked, safe)
    q = _calls(scope, *cols_of(rules))
    if failed is not None:
        q = q.outerjoin(failed, failed.c.score_id == ScoreRow.id)
    else:
        q = in_id_order(s, scope, q)
    if flagged:
        q = q.where(ScoreRow.flagged == True)  # noqa: E712
    return q.order_by(WHEN, CallRow.id)


def csv_rows_query(s: Session, scope: Scope, flagged: bool = False) -> Select:
    """SQL: the scope's calls in time order as the export's CSV cells (reports/files.CSV_FIELDS), all text,
    formula-escaped; empty text is NULL, so that PostgreSQL's COPY writes it unquoted as Python's csv does."""
    def cols(rules):
        text_cells = [_safe(AGENT_KEY), _safe(func.coalesce(AgentRow.name, "")),
                      _safe(func.coalesce(AgentRow.department, ""))]
        return (func.substr(CallRow.sha256, 1, 16), *(func.nullif(c, "") for c in text_cells), _iso_time(s),
                _float_text(s, ScoreRow.score), case((ScoreRow.flagged == True, "True"), else_="False"),  # noqa: E712
                rules, *(func.nullif(_safe(c), "") for c in (ScoreRow.rules_version, ScoreRow.model_name)),
                CallRow.sha256, func.nullif(_safe(CallRow.path), ""))
    return _export(s, scope, flagged, cols, safe=True)


def csv_rows(s: Session, scope: Scope, flagged: bool = False) -> Iterator[tuple]:
    """The rows of csv_rows_query, read STREAM_BATCH at a time."""
    yield from _raw(s, csv_rows_query(s, scope, flagged))


def json_lines(s: Session, scope: Scope, flagged: bool = False) -> Iterator[tuple[int, str]]:
    """The scope's calls in time order, each as (call id, its JSON line as reports/files.call_json's dict
    of a light call, without decisions, encodes it: same keys and separators, "decisions": [] last)."""
    def cols(rules):
        j = lambda x: _json_string(s, x)  # noqa: E731
        pieces = ['{"call": ', j(func.substr(CallRow.sha256, 1, 16)), ', "agent": ', j(AGENT_KEY),
                  ', "agent_name": ', j(func.coalesce(AgentRow.name, "")),
                  ', "department": ', j(func.coalesce(AgentRow.department, "")), ', "time": "', _iso_time(s),
                  '", "score": ', func.coalesce(_float_text(s, ScoreRow.score), "null"),
                  ', "flagged": ', case((ScoreRow.flagged == True, "true"), else_="false"),  # noqa: E712
                  ', "failed_rules": ', j(func.coalesce(rules, "")), ', "rules_version": ', j(ScoreRow.rules_version),
                  ', "model": ', j(ScoreRow.model_name), ', "sha256": ', j(CallRow.sha256),
                  ', "file": ', j(CallRow.path), ', "detailed": false, "flag_reasons": ',
                  func.coalesce(cast(ScoreRow.flag_reasons, Text), "[]"), ', "decisions": []}']
        line = literal_column("''", String)
        for p in pieces:
            line = line + (literal(p, String) if isinstance(p, str) else p)
        return CallRow.id, line
    yield from _raw(s, _export(s, scope, flagged, cols, safe=False))


def _raw(s: Session, q: Select) -> Iterator[tuple]:
    # Every column is text (or the id): rows need no SQLAlchemy result processing, only its light row objects.
    yield from s.connection().execute(q.execution_options(yield_per=STREAM_BATCH))
