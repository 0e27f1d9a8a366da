"""The call store on SQLite and on a real PostgreSQL server: schema, saving verdicts, the queue's leases,
metadata of recordings, and the `db` / `calls` / `batch --workers 0` commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from storehelp import make_calls, write_config

from callaudit import config
from callaudit.analysis.findings import Finding
from callaudit.cli.main import cli
from callaudit.errors import CallauditError
from callaudit.periods import since as parse_since
from callaudit.sources.metadata import MetadataReader
from callaudit.store import db as store
from callaudit.store import worklist as queue
from callaudit.store.schema import FAILED, QUEUED, SCORED, AgentRow, CallRow, FindingRow, ScoreRow, TurnRow, WordRow
from callaudit.store.verdicts import LeaseLost, mark_failed, save_result

TABLES = {"agents", "calls", "scores", "findings", "turns", "words", "reviews", "listen_sessions", "batch_runs"}


def invoke(*args: str, config_path: Path | None = None):
    pre = ["--config", str(config_path)] if config_path else []
    return CliRunner().invoke(cli, pre + list(args), catch_exceptions=False)


def counts(st: store.Store) -> dict[str, int]:
    with st.session() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (CallRow, ScoreRow, FindingRow, TurnRow, WordRow)}


def queue_one(st: store.Store, sha: str = "a" * 64, path: str = "/x.wav") -> int:
    with st.session() as s:
        c = CallRow(sha256=sha, path=path, status=QUEUED, meta={})
        s.add(c)
        s.flush()
        return c.id


# ---------------------------------------------------------------- schema
def test_first_use_creates_every_table_and_a_second_open_changes_nothing(db_url):
    st = store.open_store(db_url)
    assert TABLES <= set(inspect(st.engine).get_table_names())
    assert store.revisions(st)[0] == store.revisions(st)[1]
    assert store.upgrade(st)[0] == store.revisions(st)[1]  # nothing to do
    r = invoke("db", "upgrade", "--db", db_url)
    assert r.exit_code == 0 and "already up to date" in r.output
    st.close()


def test_migration_matches_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from callaudit.store.schema import Base, ours

    st = store.open_store(db_url)
    with st.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": ours, "compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
    st.close()


# ---------------------------------------------------------------- saving verdicts
def test_a_verdict_is_stored_with_findings_turns_and_words(db_url, scored_call):
    scored, result, _ = scored_call
    st = store.open_store(db_url)
    call_id = save_result(st, scored, worker="test")
    with st.session() as s:
        call = s.get(CallRow, call_id)
        score = call.current_score
        assert call.status == SCORED and call.sha256 == result["call"]["sha256"]
        assert score.verdict == result  # the full JSON, as `score --json` prints it
        assert score.rules_version == result["rules_version"] and score.model_name == "tiny.en"
        assert score.model["path"] == result["model"]["path"]
        assert [f.rule for f in score.findings] == [f["rule"] for f in result["findings"]]
        assert [t.text for t in score.turns] == [t["text"] for t in result["transcript"]]
        words = [w.text for t in score.turns for w in t.words]
        assert words and " ".join(words).lower().startswith("hello")
    st.close()


def test_rescoring_keeps_the_old_score_and_exactly_one_current(db_url, scored_call):
    scored, result, _ = scored_call
    st = store.open_store(db_url)
    call_id = save_result(st, scored)
    save_result(st, replace(scored, verdict=replace(scored.verdict, score=42.0)))
    with st.session() as s:
        scores = s.scalars(select(ScoreRow).where(ScoreRow.call_id == call_id).order_by(ScoreRow.id)).all()
        assert [(sc.score, sc.is_current) for sc in scores] == [(result["score"], False), (42.0, True)]
    # The database itself refuses a second current score.
    with pytest.raises(Exception):
        with st.session() as s:
            s.add(ScoreRow(call_id=call_id, is_current=True, score=1, flagged=False, rules_version="x", verdict={}))
    st.close()


def test_a_failed_save_leaves_nothing_behind(db_url, scored_call):
    scored, _, _ = scored_call
    st = store.open_store(db_url)
    nameless = Finding("x", None, None, False, None, "")  # a finding without its title: the database refuses it
    broken = replace(scored, verdict=replace(scored.verdict, findings=scored.verdict.findings + (nameless,)))
    with pytest.raises(IntegrityError):
        save_result(st, broken)
    assert counts(st) == {"calls": 0, "scores": 0, "findings": 0, "turns": 0, "words": 0}
    st.close()


# ---------------------------------------------------------------- leases
def test_a_lapsed_lease_is_taken_over_and_the_late_worker_cannot_save(db_url, scored_call):
    scored, result, _ = scored_call
    st = store.open_store(db_url)
    call_id = queue_one(st, result["call"]["sha256"])
    first = queue.claim(st, "host:1", lease_seconds=0.5, max_attempts=5)
    assert first.call_id == call_id
    assert queue.claim(st, "host:2", 0.5, 5) is None  # leased: nobody else gets it
    time.sleep(0.7)
    second = queue.claim(st, "host:2", 0.5, 5)
    assert second.call_id == call_id and second.attempts == 2
    with pytest.raises(LeaseLost):
        save_result(st, scored, call_id=call_id, lease_token=first.token)
    assert not mark_failed(st, call_id, first.token, "too late")
    assert queue.renew(st, second, 30) and not queue.renew(st, first, 30)
    save_result(st, scored, call_id=call_id, lease_token=second.token, worker="host:2")
    c = counts(st)
    assert c["calls"] == 1 and c["scores"] == 1
    st.close()


def test_a_call_its_workers_keep_dying_on_is_failed_with_a_reason(db_url):
    st = store.open_store(db_url)
    call_id = queue_one(st)
    for _ in range(3):
        assert queue.claim(st, "host:9", 0.01, max_attempts=3) is not None
        time.sleep(0.05)
    assert queue.claim(st, "host:9", 0.01, max_attempts=3) is None
    with st.session() as s:
        call = s.get(CallRow, call_id)
        assert call.status == FAILED and "3 workers stopped while scoring it" in call.error
    st.close()


def test_released_and_expired_leases_return_at_once(db_url):
    st = store.open_store(db_url)
    queue_one(st)
    job = queue.claim(st, "host:1", 300, 5)
    queue.release(st, job)
    job = queue.claim(st, "host:2", 300, 5)
    assert job.attempts == 1  # a polite hand-back does not count as an attempt
    assert queue.expire_owner(st, "host:2") == 1
    assert queue.claim(st, "host:3", 300, 5).call_id == job.call_id
    st.close()


def test_a_queue_job_takes_its_call_only_from_a_dead_worker_and_only_until_it_is_scored(db_url, scored_call):
    """worklist.take, what a PostgreSQL queue job does with its call: delivered twice, stored once."""
    scored, result, _ = scored_call
    st = store.open_store(db_url)
    call_id = queue_one(st, result["call"]["sha256"])
    first = queue.take(st, call_id, "host:1", lease_seconds=0.5, max_attempts=5)
    assert first.call_id == call_id and first.attempts == 1
    with pytest.raises(queue.Busy):  # a second delivery while the first worker is alive: later
        queue.take(st, call_id, "host:2", 0.5, 5)
    time.sleep(0.7)  # the first worker died: its lease lapsed
    second = queue.take(st, call_id, "host:2", 30, 5)
    assert second.attempts == 2
    with pytest.raises(LeaseLost):
        save_result(st, scored, call_id=call_id, lease_token=first.token)
    save_result(st, scored, call_id=call_id, lease_token=second.token, worker="host:2")
    assert queue.take(st, call_id, "host:3", 30, 5) is None  # scored: nothing to do
    assert queue.take(st, 10**6, "host:3", 30, 5) is None  # no such call
    c = counts(st)
    assert c["calls"] == 1 and c["scores"] == 1
    st.close()


# ---------------------------------------------------------------- metadata
def test_metadata_from_names_cdr_and_sidecars(tmp_path):
    cfg = config.load(write_config(tmp_path))
    folder = tmp_path / "rec"
    folder.mkdir()
    mix = folder / "out-79001234567-1040-20261124-101500-1764000000.12.wav"
    fs = folder / "8c1d2c3e-1111-2222-3333-444455556666.wav"
    plain = folder / "1764000111.7.wav"
    side = folder / "anything.wav"
    for p in (mix, fs, plain, side):
        p.write_bytes(b"x")
    (folder / "cdr.csv").write_text(
        '"Anna","1041","79005550000","default","2026-11-24 09:00:00","2026-11-24 09:00:02","2026-11-24 09:03:00",'
        '"180","178","NORMAL_CLEARING","8c1d2c3e-1111-2222-3333-444455556666","","","PCMA","PCMA"\n'
        '"","79001112233","1040","from-pstn","","SIP/a","SIP/b","Dial","","2026-11-24 11:00:00","","",'
        '"60","58","ANSWERED","DOCUMENTATION","1764000111.7",""\n', encoding="utf-8")
    (folder / "anything.wav.json").write_text(json.dumps({"agent": "1041", "language": "ru",
                                                          "start": "2026-11-24T12:00:00+03:00", "ticket": 7}))
    reader = MetadataReader(cfg)
    files = sorted(folder.glob("*.wav"))
    reader.index_cdrs(files, [folder / "cdr.csv"])
    m = reader.read(mix)
    assert (m["src"], m["dst"], m["extension"], m["direction"]) == ("1040", "79001234567", "1040", "out")
    assert m["start"].startswith("2026-11-24T10:15:00") and m["sources"]["extension"] == "roster"
    m = reader.read(fs)  # FreeSWITCH: uuid name + cdr_csv row
    assert (m["src"], m["dst"], m["extension"]) == ("1041", "79005550000", "1041")
    assert m["sources"]["src"].startswith("cdr:")
    m = reader.read(plain)  # Asterisk Master.csv layout (no header)
    assert (m["src"], m["dst"], m["extension"]) == ("79001112233", "1040", "1040")
    m = reader.read(side)
    assert (m["extension"], m["language"], m["extra"]) == ("1041", "ru", {"ticket": 7})
    (folder / "anything.wav.json").write_text("{broken")
    with pytest.raises(CallauditError, match="not valid JSON"):
        reader.read(side)


def test_cdr_with_a_header_and_configured_patterns(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    rec = folder / "call_5001_to_79001112233.wav"
    rec.write_bytes(b"x")
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text('[batch]\npatterns = ["^call_(?P<extension>\\\\d+)_to_(?P<dst>\\\\d+)$"]\n')
    cfg = config.load(cfg_path)
    cdr = tmp_path / "cdr.csv"
    cdr.write_text("uniqueid,src,dst,calldate,recordingfile\n1.1,5001,79001112233,2026-11-20 08:00:00,"
                   "call_5001_to_79001112233.wav\n")
    reader = MetadataReader(cfg, [cdr])
    reader.index_cdrs([rec])
    m = reader.read(rec)
    assert (m["extension"], m["dst"], m["uniqueid"]) == ("5001", "79001112233", "1.1")
    assert m["start"].startswith("2026-11-20T08:00:00")
    bad = tmp_path / "b.toml"
    bad.write_text('[batch]\npatterns = ["(?P<who>x)"]\n')
    with pytest.raises(CallauditError, match="unknown group"):
        MetadataReader(config.load(bad))


def test_roster_is_checked(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[roster]\nagents = [{extension = 1040, name = "A", email = "a@x"}, {extension = "1041"}]\n')
    assert config.load(p).agents["1040"].to_json()["email"] == "a@x"
    for body, msg in [('agents = [{name = "A"}]', "has no extension"),
                      ('agents = [{extension = "1"}, {extension = 1}]', "already agent #1"),
                      ('agents = [{extension = "1", name = 5}]', "name must be a string"),
                      ('agent = []', "unknown key"), ('agents = "x"', "list of tables")]:
        p.write_text(f"[roster]\n{body}\n")
        with pytest.raises(CallauditError, match=msg):
            config.load(p)
    p.write_text("[store]\nlease_seconds = \"long\"\n")
    with pytest.raises(CallauditError, match=r"\[store\] lease_seconds must be a number"):
        config.load(p)


def test_since():
    assert parse_since("2026-11-24").date().isoformat() == "2026-11-24"
    assert (parse_since("today") - parse_since("yesterday")).days == 1
    with pytest.raises(CallauditError, match="--since"):
        parse_since("last tuesday")


def test_since_and_period_read_one_grammar():
    """`--since X` is the start of the period X names, whichever form X takes."""
    from datetime import datetime, timedelta

    from callaudit import periods

    now = datetime(2026, 11, 24, 15, 30).astimezone()
    for named, start, end in [
        ("2026-11", datetime(2026, 11, 1), datetime(2026, 12, 1)),
        ("2026-12", datetime(2026, 12, 1), datetime(2027, 1, 1)),
        ("2026-11-20", datetime(2026, 11, 20), datetime(2026, 11, 21)),
        ("2026-11-01..2026-11-15", datetime(2026, 11, 1), datetime(2026, 11, 16)),
        ("today", datetime(2026, 11, 24), datetime(2026, 11, 25)),
        ("yesterday", datetime(2026, 11, 23), datetime(2026, 11, 24)),
        ("2026-11-24 09:00", datetime(2026, 11, 24, 9), None),
    ]:
        period = periods.parse(named, now=now)
        assert period.start == start.astimezone(), named
        assert end is None or period.end == end.astimezone(), named
        assert periods.since(named, now=now) == period.start, named
    for named, span in (("3d", timedelta(days=3)), ("last-7d", timedelta(days=7)), ("12h", timedelta(hours=12))):
        assert periods.since(named, now=now) == now - span and now in periods.parse(named, now=now), named
    for bad in ("November", "2026-11-15..2026-11-01", "2026-13"):
        with pytest.raises(CallauditError, match=f"bad --period '{bad}'"):
            periods.parse(bad, now=now)


def test_config_paths_are_absolute_and_the_environment_applied_at_load(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "c.toml"
    path.write_text('[listen]\nrecordings = "rec"\n[scoring]\nrules = "packs/mine.toml"\n'
                    '[batch]\ncdr = ["cdr/Master.csv"]\n[sip]\npassword = "in-the-file"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLAUDIT_DB", raising=False)
    monkeypatch.setenv("CALLAUDIT_SIP_PASSWORD", "from-the-env")
    cfg = config.load(path)
    assert cfg.listen.recordings == str(tmp_path / "conf" / "rec")
    assert cfg.scoring.rules == str(tmp_path / "conf" / "packs" / "mine.toml")
    assert cfg.batch.cdr == (str(tmp_path / "conf" / "cdr" / "Master.csv"),)
    assert cfg.sip.password == "from-the-env"
    monkeypatch.setenv("CALLAUDIT_DB", "env.db")
    assert config.load(path).store.db == str(tmp_path / "env.db")
    # A command-line override is read from the cwd, as any path typed there.
    assert config.load(path).with_overrides(scoring__rules="x.toml").scoring.rules == str(tmp_path / "x.toml")


def test_a_damaged_store_is_one_line_on_every_command(tmp_path, monkeypatch):
    """A disk error can leave a SQLite file that opens but whose pages are garbage: every command that
    reads the store says so in one line, none prints a traceback."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "calls.db"
    # In its own process, so that the write-ahead log is folded into the file when it exits.
    made = subprocess.run([sys.executable, "-m", "callaudit", "db", "upgrade", "--db", str(db)], capture_output=True)
    assert made.returncode == 0 and not Path(f"{db}-wal").exists(), made.stderr
    import sqlite3

    con = sqlite3.connect(db)  # every page of the tables and indexes; the schema and its revision survive
    pages = [n for name, n in con.execute("select name, pageno from dbstat")
             if name != "sqlite_schema" and "alembic_version" not in name]
    con.close()
    data = bytearray(db.read_bytes())
    for n in pages:
        data[(n - 1) * 4096:n * 4096] = b"\x5a" * 4096
    db.write_bytes(bytes(data))
    (tmp_path / "rec").mkdir()
    for args in (["calls", "list"], ["calls", "show", "abcdef12"], ["db", "status"], ["report", "-o", "r.html"],
                 ["review", "abcdef12", "--confirm", "--as", "hr", "--note", "n"],
                 ["appeal", "abcdef12", "--as", "agent", "--note", "n"], ["batch", str(tmp_path / "rec")]):
        r = CliRunner().invoke(cli, [*args, "--db", str(db)], input="password\n")
        assert r.exit_code == 2, (args, r.output)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("callaudit: error: ") and "Traceback" not in r.output, \
            (args, r.output)
        assert "malformed" in lines[0], (args, lines[0])


# ---------------------------------------------------------------- commands (queue only: no model)
def test_batch_queues_dedups_and_honours_since_limit_rescore_retry(db_url, tmp_path, scored_call):
    cfg = write_config(tmp_path)
    rec = tmp_path / "rec"
    files = make_calls(rec, 4)
    shutil.copy(files[0], rec / "z-copy.wav")
    (rec / "empty.wav").write_bytes(b"")
    r = invoke("batch", str(rec), "--db", db_url, "--workers", "0", "--json", config_path=cfg)
    out = json.loads(r.output)
    assert out["queued"] == 5 and out["found"] == 6
    assert [s["reason"] for s in out["skipped_files"]] == [f"same recording as {files[0]}"]
    st = store.open_store(db_url)
    with st.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRow).where(CallRow.status == QUEUED)) == 5
        names = {a.extension: a.name for a in s.scalars(select(AgentRow))}
        assert names["1040"] == "Anna Ivanova" and names["1041"] == "Boris Petrov"
        first = s.scalars(select(CallRow).where(CallRow.path == str(files[0]))).one()
        assert (first.extension, first.src, first.language) == ("1040", "1040", "en")
    # ScoreRow one the way a worker does, fail another; then see what a re-run does with each.
    scored, _, _ = scored_call
    job = queue.claim(st, "t:1", 30, 5)
    save_result(st, replace(scored, sha256=job.sha256), call_id=job.call_id, lease_token=job.token)
    job2 = queue.claim(st, "t:1", 30, 5)
    mark_failed(st, job2.call_id, job2.token, "broken on purpose")
    out = json.loads(invoke("batch", str(rec), "--db", db_url, "--workers", "0", "--json", config_path=cfg).output)
    reasons = sorted(s["reason"].split(" (")[0] for s in out["skipped_files"])
    assert reasons == ["already scored"] + ["failed before: broken on purpose"] * 2  # the copy shares its fate
    out = json.loads(invoke("batch", str(rec), "--db", db_url, "--workers", "0", "--json", "--rescore",
                            "--retry-failed", config_path=cfg).output)
    assert out["queued"] == 5
    with st.session() as s:
        again = s.get(CallRow, job.call_id)
        assert again.status == QUEUED and again.current_score is not None  # the old verdict stays until replaced
    out = json.loads(invoke("batch", str(rec), "--db", db_url, "--workers", "0", "--json", "--since",
                            "2027-01-01", config_path=cfg).output)
    assert out["older_than_since"] == 6 and out["queued"] == 0
    st.close()
    # --limit on a fresh store
    other = tmp_path / "other.db"
    out = json.loads(invoke("batch", str(rec), "--db", str(other), "--workers", "0", "--limit", "2", "--json",
                            config_path=cfg).output)
    assert out["queued"] == 2 and sum("beyond --limit" in s["reason"] for s in out["skipped_files"]) == 3


def test_calls_list_and_show(db_url, tmp_path, scored_call):
    scored, result, path = scored_call
    st = store.open_store(db_url)
    save_result(st, scored)
    st.close()
    r = invoke("calls", "list", "--db", db_url, "--json")
    rows = json.loads(r.output)
    assert [(x["id"], x["status"], x["score"]) for x in rows] == [(result["call"]["id"], "scored", result["score"])]
    r = invoke("calls", "list", "--db", db_url)
    assert result["call"]["id"] in r.output and "scored" in r.output
    shown = json.loads(invoke("calls", "show", result["call"]["id"], "--db", db_url, "--json").output)
    assert shown["verdict"] == result and shown["call"]["sha256"] == result["call"]["sha256"]
    r = invoke("calls", "show", result["call"]["id"][:8], "--db", db_url)
    assert r.exit_code == 0 and "greeting" in r.output
    r = CliRunner().invoke(cli, ["calls", "show", "ffffffffff", "--db", db_url])
    assert r.exit_code == 2 and "no call 'ffffffffff' in the store" in r.output


@pytest.mark.parametrize("db, message", [
    ("mysql://u@h/db", "mysql is not supported"),
    ("postgresql://u@host:notaport/db", "bad database URL"),
    ("postgresql:/x", "bad database URL"),
    ("/no/such/folder/calls.db", "folder /no/such/folder does not exist"),
    ("postgresql://nobody@127.0.0.1:1/none", "cannot open database postgresql+psycopg://nobody@127.0.0.1:1/none"),
])
def test_a_bad_database_is_one_clear_line(db, message):
    for args in (["calls", "list", "--db", db], ["db", "upgrade", "--db", db]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 2, r.output
        assert message in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_password_is_never_shown(tmp_path):
    r = CliRunner().invoke(cli, ["calls", "list", "--db", "postgresql://u:s3cret@127.0.0.1:1/x"])
    assert r.exit_code == 2 and "s3cret" not in r.output and "***" in r.output


def test_db_path_from_config_is_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    cfg = tmp_path / "conf" / "c.toml"
    cfg.write_text('[store]\ndb = "data.db"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLAUDIT_DB", raising=False)
    r = invoke("db", "upgrade", config_path=cfg)
    assert r.exit_code == 0 and (tmp_path / "conf" / "data.db").exists()
    monkeypatch.setenv("CALLAUDIT_DB", str(tmp_path / "env.db"))
    assert invoke("db", "upgrade", config_path=cfg).exit_code == 0 and (tmp_path / "env.db").exists()
