"""Requests in the store and on the command line without the models: extractions written as the requests
reader writes them, statuses recomputed, listed, closed, exported; bad input is one line, never a
traceback; a CSV cell that would be a spreadsheet formula is neutralised."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from clihelp import one_error_line, run

from callaudit import config
from callaudit.analysis.deadlines import deadline
from callaudit.analysis.requests import CallRequests, Commitment, Event, Request, Said, call_facts
from callaudit.jobs.requests import RefreshReport, recompute, settings_digest
from callaudit.store import accounts
from callaudit.store import requests as rq_store
from callaudit.store.db import open_store
from callaudit.store.schema import SCORED, CallRow, ScoreRow

MSK = ZoneInfo("Europe/Moscow")
OLGA_PW, BORIS_PW = "olga's long password", "boris's long password"
RULES = str(Path(__file__).resolve().parents[1] / "rules" / "client-service.ru.toml")


def said(intent, speaker, quote, offset, status="match") -> Said:
    return Said(intent, status, speaker, quote, offset, offset + 2.0, 1, 0, len(quote.split()) - 1, 0.8, "example")


def add_call(s, n: int, start: datetime, src: str, dst: str, ext: str, requests=(), events=(), timed=True) -> str:
    """A scored call and its requests; `timed` False: no start time in its metadata, only the file's mtime."""
    sha = f"{n:02d}" * 32
    call = CallRow(sha256=sha, path=f"/rec/{n}.wav", status=SCORED, extension=ext, src=src, dst=dst, started_at=start,
                   language="ru", meta={"src": src, "dst": dst, "sources": {"start": "name"}})
    s.add(call)
    s.flush()
    score = ScoreRow(call_id=call.id, is_current=True, score=100.0, flagged=False, rules_version="client-service@t",
                     rules_file=RULES, language="ru", verdict={})
    s.add(score)
    s.flush()
    facts = call_facts(sha, start, call.meta, ext, "ru", None) if timed else \
        call_facts(sha, None, call.meta, ext, "ru", start)
    rq_store.replace_call(s, call, score, settings_digest(config.defaults(), "ru"),
                          CallRequests(facts, tuple(requests), tuple(events)))
    return sha[:16]


def request(n, quote, promise, start, topics=("billing",)) -> Request:
    c = said("commitment", "agent", promise, 8.0)
    d = deadline(promise, start + timedelta(seconds=8))
    return Request(f"{n:012x}", 0, "problem" if "billing" in topics else "request", topics,
                   said("request", "customer", quote, 3.0), None, Commitment((c,), d), None)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_setting(request) -> str:
    """The store on each backend: a SQLite file, or a fresh database on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield "calls.db"
        return
    server = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.admin(f"CREATE DATABASE {name}")
    yield server.url(name)
    server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def office(tmp_path, monkeypatch, db_setting):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callaudit.toml").write_text(f'[store]\ndb = "{db_setting}"\n', encoding="utf-8")
    cfg = config.load(tmp_path / "callaudit.toml")
    st = open_store(None, cfg)
    d1 = datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
    with st.session() as s:
        ids = {
            "kept": add_call(s, 1, d1, "79161112233", "1040", "1040",
                             [request(1, "=HYPERLINK(\"http://x\") пересчитайте счёт", "перезвоню сегодня до пяти", d1)]),
            "callback": add_call(s, 2, d1 + timedelta(hours=5), "1040", "79161112233", "1040",
                                 events=[Event("done", said("done", "agent", "счёт пересчитали", 4.0), ("billing",))]),
            "missed": add_call(s, 3, d1 + timedelta(hours=1), "79162223344", "1041", "1041",
                               [request(2, "интернет не работает", "мастер придёт завтра до обеда", d1,
                                        ("no-connection",))]),
            "later": add_call(s, 4, d1 + timedelta(days=2), "79169990000", "1041", "1041"),
        }
    recompute(st, cfg, {"+79161112233", "+79162223344"}, set(), RefreshReport())
    st.close()
    return tmp_path, ids


@pytest.fixture
def people(office):
    """Olga (hr) and Boris (an agent) have accounts."""
    cfg = config.load(office[0] / "callaudit.toml")
    st = open_store(None, cfg)
    with st.session() as s:
        accounts.add_user(s, "Olga HR", "hr", OLGA_PW)
        accounts.add_user(s, "Boris Petrov", "agent", BORIS_PW, "1041")
    st.close()
    return office


def listed(*args) -> list[dict]:
    r = run("requests", "list", "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_statuses_across_the_stored_calls(office):
    _, ids = office
    got = {j["call"]: j for j in listed()}
    kept, missed = got[ids["kept"]], got[ids["missed"]]
    assert kept["status"] == "fulfilled" and kept["fulfilled_at"].startswith("2026-11-23T15:00")
    assert [e["kind"] for e in kept["evidence"]] == ["problem", "commitment", "done"]
    assert missed["status"] == "overdue" and missed["charged"] == "1041" and missed["due"] == "2026-11-24T13:00+03:00"
    assert missed["finding"]["passed"] is False and missed["as_of"] == "2026-11-25T10:00+03:00"
    assert kept["customer"] == "+7 916 ***-**-33" and kept["call_time_source"] == "file name"


def test_recomputing_again_changes_nothing(office):
    tmp, _ = office
    cfg = config.load(tmp / "callaudit.toml")
    st = open_store(None, cfg)
    rep = RefreshReport()
    recompute(st, cfg, {"+79161112233", "+79162223344"}, set(), rep)
    st.close()
    assert rep.changed == {} and rep.statuses == {"fulfilled": 1, "overdue": 1}


def test_closing_by_hand_under_an_hr_account(people):
    _, ids = people
    missed = next(j for j in listed() if j["call"] == ids["missed"])
    r = run("requests", "close", missed["id"], "--note", "done on site, confirmed", "--as", "Olga HR",
            input=OLGA_PW + "\n")
    assert r.exit_code == 0 and "closed by Olga HR" in r.output
    now = next(j for j in listed() if j["call"] == ids["missed"])
    assert now["status"] == "closed" and now["charged"] is None and now["finding"] is None
    assert now["evidence"][-1]["who"] == "Olga HR" and now["evidence"][-1]["kind"] == "closed"
    assert listed("--status", "overdue") == []


@pytest.mark.parametrize("who, password, words", [
    ("Olga HR", "not her password at all", ["password"]),
    ("Boris Petrov", BORIS_PW, ["may not close a request", "agent"]),  # the agent charged cannot clear it
    (None, OLGA_PW, ["--as"]),
])
def test_closing_needs_an_hr_or_admin_account(people, who, password, words):
    _, ids = people
    missed = next(j for j in listed() if j["call"] == ids["missed"])
    args = ["requests", "close", missed["id"], "--note", "nobody"] + (["--as", who] if who else [])
    one_error_line(run(*args, input=password + "\n"), *words)
    assert next(j for j in listed() if j["call"] == ids["missed"])["status"] == "overdue"


def test_by_is_refused(office):
    r = run("requests", "close", "000000000001", "--note", "x", "--by", "Olga HR")
    assert r.exit_code == 2 and "--by is no longer accepted" in r.stderr and "--as NAME" in r.stderr


def test_the_problems_csv_is_formula_safe_and_round_trips(office, tmp_path):
    r = run("requests", "problems", "--format", "csv", "-o", str(tmp_path / "p.csv"))
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text(encoding="utf-8"))))
    # Neither is a formula to a spreadsheet: the quote, nor the masked number's leading "+".
    assert len(rows) == 1 and rows[0]["quote"].startswith("'=HYPERLINK")
    assert rows[0]["topics"] == "billing" and rows[0]["resolved"] == "True" and rows[0]["customer"] == "'+7 916 ***-**-33"


def test_customers_show(office):
    _, ids = office
    r = run("customers", "show", "8 916 111 22 33", "--json")
    page = json.loads(r.output)
    assert [c["call"] for c in page["calls"]] == [ids["kept"], ids["callback"]]
    assert [c["direction"] for c in page["calls"]] == ["inbound", "outbound"]


@pytest.mark.parametrize("args, words", [
    (("customers", "show", "anonymous"), ["not a customer's phone number"]),
    (("customers", "show", "89160000001"), ["no calls with customer"]),
    (("requests", "close", "abc", "--note", "x"), ["6+ hex digits"]),
    (("requests", "close", "abcdef0123", "--note", "x"), ["no request"]),
    (("requests", "close", "000000000001", "--note", " ", "--as", "x"), ["--note"]),
    (("requests", "list", "--customer", "12"), ["not a customer's phone number"]),
])
def test_bad_input_is_one_line(office, args, words):
    one_error_line(run(*args), *words)


def test_a_bad_timezone_is_one_line_naming_the_key(office):
    tmp, _ = office
    (tmp / "callaudit.toml").write_text('[store]\ndb = "calls.db"\n[requests]\ntimezone = "Mars/Base"\n')
    one_error_line(run("requests", "list"), "[requests] timezone", "Mars/Base")


def test_an_empty_store_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("requests", "list", "--db", str(tmp_path / "empty.db"))
    assert r.exit_code == 0 and "callaudit batch" in r.output
    r = run("requests", "problems", "--db", str(tmp_path / "empty.db"), "--format", "csv")
    assert r.output.splitlines() == ["id,reported_at,customer,topics,topic_titles,quote,call,agent,status,resolved,"
                                     "resolved_at,commitment,due,evidence"]


def test_with_no_outbound_call_recorded_an_overdue_is_not_evaluated(tmp_path, monkeypatch):
    """A PBX that records only inbound calls: a missing callback proves nothing, so nobody is charged."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callaudit.toml").write_text('[store]\ndb = "calls.db"\n', encoding="utf-8")
    cfg = config.load(tmp_path / "callaudit.toml")
    st = open_store(None, cfg)
    d1 = datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
    with st.session() as s:
        missed = add_call(s, 3, d1, "79162223344", "1041", "1041",
                          [request(2, "интернет не работает", "мастер придёт завтра до обеда", d1, ("no-connection",))])
        add_call(s, 4, d1 + timedelta(days=2), "79169990000", "1041", "1041")
    recompute(st, cfg, {"+79162223344"}, set(), RefreshReport())
    st.close()
    got = next(j for j in listed() if j["call"] == missed)
    assert got["status"] == "overdue" and got["charged"] is None
    assert "no outbound call of the department is recorded" in got["doubt"]
    assert got["finding"]["status"] == "not evaluated" and got["finding"]["passed"] is None
    text = run("requests", "list").output
    assert "NOT EVALUATED (not charged)" in text and "not evaluated, because: no outbound call" in text


def test_a_commitment_timed_only_by_the_files_mtime_is_not_charged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callaudit.toml").write_text('[store]\ndb = "calls.db"\n', encoding="utf-8")
    cfg = config.load(tmp_path / "callaudit.toml")
    st = open_store(None, cfg)
    d1 = datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
    with st.session() as s:
        loose = add_call(s, 3, d1, "79162223344", "1041", "1041",
                         [request(2, "интернет не работает", "мастер придёт завтра до обеда", d1, ("no-connection",))],
                         timed=False)
        add_call(s, 5, d1 + timedelta(hours=3), "1041", "79169990000", "1041")  # outbound calls are recorded
        add_call(s, 4, d1 + timedelta(days=2), "79169990000", "1041", "1041")
    recompute(st, cfg, {"+79162223344"}, set(), RefreshReport())
    st.close()
    got = next(j for j in listed() if j["call"] == loose)
    assert got["status"] == "overdue" and got["charged"] is None and "file mtime" in got["call_time_source"]
    assert "only by its file's mtime" in got["doubt"] and got["finding"]["status"] == "not evaluated"
