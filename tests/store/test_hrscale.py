"""HR data at scale (#17), on SQLite and on a real PostgreSQL server: a report's SQL statements are a fixed
number whatever the number of calls, the SQL summaries say what the per-call code said (the verdicts'
findings and the decisions in force on them), big reports detail a capped number of calls and say how
to get the others, and the report indexes are added safely to a live store.

A month is built from one real scored call (tiny.en) and a bad variant of it, copied in bulk
(store/copies.py); the bad one was scored twice, with decisions on both scorings."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, text

from callaudit import periods
from callaudit.config.sections import PolicySettings
from callaudit.reports import files, hrdata, html_report
from callaudit.reports.redact import Redactor
from callaudit.store import db as store
from callaudit.store.accounts import add_user, find_user
from callaudit.store.copies import copy_calls
from callaudit.store.reviews import CONFIRMED, DISMISSED, appeal, decide_appeal, history, in_force, review
from callaudit.store.schema import SCORED, CallRow
from callaudit.store.verdicts import save_result

PERIOD = periods.parse("2026-11-15..2026-11-30")
POLICY = PolicySettings(window_days=20)  # the ladder also counts 2026-11-11..14, outside the period
NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)
# Statements for a whole report: agents' figures, trends, violations and the ladder, failed findings,
# decisions, the flagged list, which calls to detail, their verdicts, their words, the stream of calls
# (and, on SQLite, the BEGIN IMMEDIATE every transaction sends).
BOUND = 11
FAILING = ("greeting", "response-time", "closing", "forbidden-phrases")


def bad_variant(scored):
    """The real call with four rules failed (their evidence kept), flagged, as a worse call would be."""
    findings = tuple(replace(f, passed=False) if f.rule in FAILING else f for f in scored.verdict.findings)
    verdict = replace(scored.verdict, findings=findings, score=35.0, flagged=True,
                      reasons=("forbidden-phrases failed (critical)",))
    return replace(scored, sha256="b" * 64, verdict=verdict)


def month(url: str, scored, calls: int) -> store.Store:
    """`calls` calls (half of them copies of the bad variant, with decisions on one copy in two)."""
    st = store.open_store(url)
    save_result(st, scored)
    bad = bad_variant(scored)
    save_result(st, bad)
    with st.session() as s:
        call = s.scalars(select(CallRow).where(CallRow.sha256 == bad.sha256)).one()
        add_user(s, "Olga HR", "hr", "olga-hr-Pa55word")
        add_user(s, "Anna Agent", "agent", "anna-Pa55word", extension=call.extension)
    with st.session() as s:
        call = s.scalars(select(CallRow).where(CallRow.sha256 == bad.sha256)).one()
        review(s, call, DISMISSED, find_user(s, "Olga HR"), "made on the first scoring only", "response-time")
    save_result(st, bad)  # a rescore: the dismissal above decides nothing about the new verdict
    with st.session() as s:
        call = s.scalars(select(CallRow).where(CallRow.sha256 == bad.sha256)).one()
        olga, anna = find_user(s, "Olga HR"), find_user(s, "Anna Agent")
        review(s, call, CONFIRMED, olga, "the whole call stands")
        review(s, call, DISMISSED, olga, "the customer spoke first", "greeting")
        review(s, call, CONFIRMED, olga, "no goodbye heard", "closing")
        appeal(s, call, anna, "I said goodbye, the line cut it", finding="closing")
        decide_appeal(s, call, olga, True, "goodbye heard on the agent's channel")  # upheld: closing dismissed
        appeal(s, call, anna, "the line was bad")  # pending: changes nothing yet
    copy_calls(st, calls // 2 - 1, agents=4, month=datetime(2026, 11, 1, tzinfo=timezone.utc), reviews_every=2)
    return st


class Statements:
    """Counts the SQL statements an engine sends (SQLAlchemy's before_cursor_execute event)."""

    def __init__(self, engine):
        self.engine, self.n = engine, 0

    def _count(self, *_):
        self.n += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_):
        event.remove(self.engine, "before_cursor_execute", self._count)


def whole_report(st: store.Store, **kw) -> tuple[int, hrdata.ReportData, list[hrdata.CallView]]:
    """gather and read every call of the report: (statements sent, the data, the calls)."""
    with st.session() as s, Statements(st.engine) as counted:
        data = hrdata.gather(s, PERIOD, POLICY, Redactor(), now=NOW, **kw)
        calls = list(data.calls)
    return counted.n, data, calls


@pytest.fixture
def another_db(db_url, request, tmp_path):
    """Further fresh databases on db_url's backend."""
    made: list[str] = []

    def make() -> str:
        if "://" not in db_url:
            made.append("")
            return str(tmp_path / f"another-{len(made)}.db")
        server = request.getfixturevalue("pg_server")
        name = f"t_{uuid.uuid4().hex[:12]}"
        server.admin(f"CREATE DATABASE {name}")
        made.append(name)
        return server.url(name)

    yield make
    for name in filter(None, made):
        request.getfixturevalue("pg_server").admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_report_takes_the_same_statements_for_10_and_for_1000_calls(db_url, another_db, scored_call):
    scored, _, _ = scored_call
    counts = {}
    for n, url in ((10, db_url), (1000, another_db())):
        st = month(url, scored, n)
        with st.session() as s:
            assert s.scalar(select(func.count()).select_from(CallRow)) == n
        counts[n], data, calls = whole_report(st)
        assert len(calls) == len(data.calls) == data.total > 0
        assert data.details and data.agents and data.flagged
        st.close()
    assert counts[10] == counts[1000] <= BOUND, counts


def reference(st: store.Store):
    """What the per-call code computed (main before #17): every call's view from its verdict and the
    decisions in force, then counted in Python."""
    with st.session() as s:
        calls = s.scalars(select(CallRow).where(CallRow.status == SCORED)).all()
        decisions = history(s, [c.id for c in calls])
        views = []
        for c in calls:
            score = c.current_score
            failed = []
            for f in score.verdict["findings"]:
                if f["status"] == "failed" and in_force(decisions.get(c.id, []), f["rule"], score.id) != DISMISSED:
                    failed.append((f["rule"], f["severity"]))
            views.append((c.id, c.started_at or score.scored_at, c.agent.extension if c.agent else (c.extension or ""),
                          score.score, score.flagged, failed, len(decisions.get(c.id, []))))
    window_start = min(PERIOD.end, NOW) - timedelta(days=POLICY.window_days)
    agents = {}
    for v in sorted(views, key=lambda v: (v[1], v[0])):
        key = v[2] or "unknown"
        if PERIOD.start <= v[1] < PERIOD.end:
            agents.setdefault(key, {"calls": [], "offences": 0})["calls"].append(v)
    for v in views:
        key = v[2] or "unknown"
        if key in agents and window_start <= v[1] < PERIOD.end:
            agents[key]["offences"] += sum(1 for _, sev in v[5] if sev in POLICY.severities)
    out = {}
    for key, a in agents.items():
        cs = a["calls"]
        by_day = {}
        for c in cs:
            by_day.setdefault(c[1].date().isoformat(), []).append(c[3])
        per_rule = Counter(r for c in cs for r in {r for r, _ in c[5]})
        out[key] = {"checked": len(cs), "average": round(statistics.mean(c[3] for c in cs), 1),
                    "trend": [(d, round(statistics.mean(x), 1)) for d, x in sorted(by_day.items())],
                    "violations": dict(sorted(Counter(f for c in cs for f in c[5]).items())),
                    "repeats": sorted(r for r, n in per_rule.items() if n > 1), "offences": a["offences"],
                    "flagged": sum(c[4] for c in cs), "decisions": sum(c[6] for c in cs)}
    calls_in_period = [v for v in sorted(views, key=lambda v: (v[1], v[0])) if PERIOD.start <= v[1] < PERIOD.end]
    return out, calls_in_period


def test_the_summaries_say_what_the_per_call_code_said(db_url, scored_call):
    scored, _, _ = scored_call
    st = month(db_url, scored, 400)
    expected, expected_calls = reference(st)
    _, data, calls = whole_report(st)
    got = {a.extension: {"checked": a.checked, "average": a.average, "trend": a.trend, "violations": a.violations,
                         "repeats": a.repeats, "offences": a.offences, "flagged": a.flagged,
                         "decisions": a.decisions_total} for a in data.agents}
    assert got == expected
    # The ladder's window reaches before the period, and some failures were dismissed on half the copies.
    assert any(a.offences > sum(n for (_, sev), n in a.violations.items() if sev in POLICY.severities)
               for a in data.agents)
    assert {a.recommendation for a in data.agents} == {hrdata.recommend(e["offences"], POLICY) for e in expected.values()}
    assert Counter(dict(data.top_rules)) == sum((Counter({r: n}) for e in expected.values()
                                                 for (r, _), n in e["violations"].items()), Counter())
    assert [(c.db_id, list(c.failed_rules)) for c in calls] == [(v[0], [r for r, _ in v[5]]) for v in expected_calls]
    # A detailed call's findings carry the decision in force: the rescore's own, never the first scoring's.
    bad = next(c for c in data.details if c.flagged and c.decisions)
    status = {f["rule"]: (f["status"], f["review"]) for f in bad.findings if f["rule"] in FAILING}
    assert status == {"greeting": ("dismissed", DISMISSED), "response-time": ("failed", CONFIRMED),
                      "closing": ("dismissed", DISMISSED), "forbidden-phrases": ("failed", CONFIRMED)}
    assert [d.on_current for d in bad.decisions] == [False, True, True, True, True, True, True]
    assert [(d.decision, d.by) for d in bad.decisions][-3:] == [("appealed", "Anna Agent"), ("upheld", "Olga HR"),
                                                                ("appealed", "Anna Agent")]
    st.close()


def test_a_big_report_details_a_capped_number_of_calls_and_says_how_to_get_the_others(db_url, scored_call, tmp_path):
    scored, _, _ = scored_call
    st = month(db_url, scored, 600)
    caps = hrdata.Caps(details=20, listed=100, per_agent=5)
    with st.session() as s:
        data = hrdata.gather(s, PERIOD, POLICY, Redactor(), now=NOW, caps=caps)
        html = html_report.render(data, Redactor())
        report_json = files.to_json(data)
        csv_rows = files.to_csv(data).splitlines()[1:]
    flagged_in_period = data.flagged_total
    assert flagged_in_period > 100 and data.total > 20
    # Details: the flagged calls with the lowest scores, in time order; the note says how many are left.
    assert len(data.details) == 20 and all(c.flagged and c.detailed and c.transcript for c in data.details)
    assert [c.when for c in data.details] == sorted(c.when for c in data.details)
    assert len(re.findall(r'<section id="call-', html)) == 20
    assert f"for 20 of the {data.total:,} calls" in html and "--agent EXT" in html and "--period" in html
    # The flagged table: 100 rows, and how many more there are.
    assert len(re.findall(r'<tr class="flagged-call"', html)) == 100
    assert f"100 of {flagged_in_period:,} flagged calls listed" in html
    # Per agent: the figures cover every call, the lists the latest few, with how many there are.
    assert all(len(a.failed) <= 5 and len(a.decisions) <= 5 for a in data.agents)
    assert any(a.decisions_total > 5 for a in data.agents) and "(the latest 5 of" in html
    # JSON and CSV still hold every call; only the detailed ones carry transcripts.
    assert len(csv_rows) == data.total
    assert report_json.count('"detailed": true') == 20 and report_json.count('"detailed": false') == data.total - 20
    st.close()


def _store_at_0002(url: str) -> store.Store:
    from alembic import command

    st = store.connect(store.resolve_url(url))
    with st.engine.connect() as conn:
        command.upgrade(store._alembic_config(conn), "0002")
    return st


def test_the_report_indexes_are_added_to_a_live_store_by_two_upgraders_at_once(db_url, scored_call):
    scored, _, _ = scored_call
    st = _store_at_0002(db_url)
    save_result(st, scored)
    copy_calls(st, 300, agents=3)
    if st.dialect == "postgresql":  # an earlier build that was interrupted left an invalid index behind
        with st.engine.begin() as conn:
            conn.execute(text("CREATE INDEX ix_calls_agent_started ON calls (agent_id)"))
            conn.execute(text("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_calls_agent_started'::regclass"))
    cmd = [sys.executable, "-m", "callaudit.cli", "db", "upgrade", "--db", db_url]
    both = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) + (p.returncode,) for p in both]
    assert all(code == 0 for _, _, code in outs), outs
    assert sorted("upgraded from 0002" in out for out, _, _ in outs) in ([False, True], [True, True]), outs
    assert store.revisions(st)[0] == "0007"
    with st.engine.connect() as conn:
        if st.dialect == "postgresql":
            rows = conn.execute(text("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON "
                                     "c.oid = i.indexrelid WHERE c.relname LIKE 'ix_%'")).all()
        else:
            rows = [(name, True) for name, in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))]
        found = dict(rows)
    for name in ("ix_findings_failed", "ix_reviews_score_id", "ix_calls_agent_started"):
        assert found.get(name) is True, (name, found)
    # The report reads through them.
    with st.engine.connect() as conn:
        sql = "SELECT position, rule, severity FROM findings WHERE score_id = 5 AND status = 'failed'"
        if st.dialect == "postgresql":  # a few hundred rows: the planner would rather read the table
            conn.execute(text("SET enable_seqscan = off"))
        plan = " ".join(str(r) for r in conn.execute(text(("EXPLAIN QUERY PLAN " if st.dialect == "sqlite"
                                                           else "EXPLAIN ") + sql)))
    assert "ix_findings_failed" in plan, plan
    st.close()
