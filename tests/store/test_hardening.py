"""Defects found by trying to break callaudit as an attacker and a careless operator would (issue #18):
each test reproduces one, and a corpus of odd files goes through a batch beside good calls."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from storehelp import CALLAUDIT, make_calls, write_config

from callaudit.cli.main import cli
from callaudit.store import db as store
from callaudit.store.verdicts import save_result


def invoke(*args: str, config_path: Path | None = None, env: dict | None = None, input: str | None = None):
    pre = ["--config", str(config_path)] if config_path else []
    return CliRunner().invoke(cli, pre + list(args), env=env, input=input)


OLGA, OLGA_PW = "Olga HR", "olga-hr-Pa55word"


def _accounts(st) -> None:
    """The accounts decisions are recorded under: an hr reviewer and the agent of the test call (1040)."""
    from callaudit.store import accounts

    with st.session() as s:
        accounts.add_user(s, OLGA, "hr", OLGA_PW)
        accounts.add_user(s, "Anna Ivanova", "agent", "anna-Pa55word", extension="1040")


def one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1 and lines[0].startswith("callaudit: error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def batch(folder: Path, cfg: Path, db: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real command in its own process, under a time limit: a hang is a failure, not a stuck suite."""
    return subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(folder), "--db", str(db), "--json", *extra],
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------ 1. FIFOs, devices, link loops
def test_a_fifo_a_device_link_and_a_link_loop_are_refused_and_stored_not_read(tmp_path):
    rec = tmp_path / "rec"
    make_calls(rec, 1)
    os.mkfifo(rec / "fifo.wav")
    (rec / "zero.wav").symlink_to("/dev/zero")
    (rec / "loop-a.wav").symlink_to(rec / "loop-b.wav")
    (rec / "loop-b.wav").symlink_to(rec / "loop-a.wav")
    cfg, db = write_config(tmp_path), tmp_path / "calls.db"
    out = batch(rec, cfg, db, "--workers", "0", timeout=60)  # before the fix: blocked forever hashing the FIFO
    summary = json.loads(out.stdout)
    reasons = {Path(f["file"]).name: f["reason"] for f in summary["failures"]}
    assert "not a regular file (a FIFO)" in reasons["fifo.wav"]
    assert "not a regular file (a device)" in reasons["zero.wav"]
    assert "symbolic links" in reasons["loop-a.wav"] and "symbolic links" in reasons["loop-b.wav"]
    assert summary["queued"] == 1 and summary["found"] == 5, summary
    stored = json.loads(invoke("calls", "list", "--status", "failed", "--db", str(db), "--json").output)
    assert {Path(r["file"]).name for r in stored} == {"fifo.wav", "zero.wav", "loop-a.wav", "loop-b.wav"}
    assert all(r["error"] for r in stored)
    with store.open_store(str(db)).session() as s:
        from callaudit.store.schema import BatchRunRow
        assert [r.status for r in s.query(BatchRunRow)] == ["done"]
    # Run again: still one stored line per bad file.
    batch(rec, cfg, db, "--workers", "0", timeout=60)
    again = json.loads(invoke("calls", "list", "--status", "failed", "--db", str(db), "--json").output)
    assert len(again) == 4


def test_score_refuses_a_fifo_in_one_line(tmp_path):
    os.mkfifo(tmp_path / "fifo.wav")
    out = subprocess.run([CALLAUDIT, "score", str(tmp_path / "fifo.wav")], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode != 0 and "not a regular file" in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------------------------ 2. decisions bound to their scoring
def _failing(scored, rule: str):
    """The same call rescored into a verdict that fails `rule` (as a later pack version might)."""
    findings = tuple(replace(f, passed=False, detail="failed on rescore") if f.rule == rule else f
                     for f in scored.verdict.findings)
    return replace(scored, verdict=replace(scored.verdict, findings=findings, score=90.0, flagged=True),
                   rules_version=scored.rules_version + "-v2")


def _statuses(db: str) -> dict[str, str]:
    out = json.loads(invoke("report", "--format", "json", "--db", db).output)
    (call,) = out["calls"]
    return {f["rule"]: f["status"] for f in call["findings"]}, call["decisions"]


def test_a_dismissal_decides_only_the_scoring_it_was_made_on(db_url, scored_call):
    scored, result, _ = scored_call
    st = store.open_store(db_url)
    save_result(st, scored)
    _accounts(st)
    call = result["call"]["id"]
    # "Dismiss the whole call" on a call that failed nothing: stored, but decides nothing about later verdicts.
    r = invoke("review", call, "--dismiss", "--as", OLGA, "--note", "all fine", "--db", db_url, input=OLGA_PW + "\n")
    assert r.exit_code == 0, r.output
    save_result(st, _failing(scored, "closing"))
    statuses, decisions = _statuses(db_url)
    assert statuses["closing"] == "failed"  # before the fix: "dismissed", hidden by the old decision
    assert [(d["decision"], d["on_current_scoring"]) for d in decisions] == [("dismissed", False)]
    # A decision on the new scoring does decide it; the history keeps both.
    assert invoke("review", call, "--finding", "closing", "--dismiss", "--as", OLGA, "--note", "misheard",
                  "--db", db_url, input=OLGA_PW + "\n").exit_code == 0
    statuses, decisions = _statuses(db_url)
    assert statuses["closing"] == "dismissed"
    assert [(d["decision"], d["on_current_scoring"]) for d in decisions] == [("dismissed", False),
                                                                              ("dismissed", True)]
    # And a third scoring that fails it again is unreviewed again.
    save_result(st, replace(_failing(scored, "closing"), rules_version="v3"))
    assert _statuses(db_url)[0]["closing"] == "failed"
    st.close()


# ------------------------------------------------------------------ 3. calls that cannot be judged
def test_a_call_with_no_speech_is_not_judged_and_is_flagged_for_a_person(tmp_path):
    import numpy as np

    from callaudit.sources.samples import write_wav

    silent = tmp_path / "silence.wav"
    write_wav(silent, np.zeros((2, 8000 * 120), dtype=np.float32))  # two minutes of digital silence
    out = subprocess.run([CALLAUDIT, "--config", str(write_config(tmp_path)), "score", "--json", str(silent)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["transcript"] == []
    assert {f["status"] for f in result["findings"]} == {"not evaluated"}  # before: dead-air "passed: no silence"
    assert all("no speech: nothing to judge" in f["detail"] for f in result["findings"])
    assert result["flagged"] is True and any("no speech" in r for r in result["flag_reasons"])


@pytest.mark.parametrize("language, expect", [("de", "language 'de' is not one callaudit scores"),
                                              ("xx", "language 'xx' is not one callaudit scores")])
def test_a_language_from_metadata_is_checked_like_lang(tmp_path, language, expect):
    rec = tmp_path / "rec"
    (path,) = make_calls(rec, 1)
    path.with_name(path.name + ".json").write_text(json.dumps({"language": language}))
    out = batch(rec, write_config(tmp_path), tmp_path / "calls.db", "--workers", "1")
    summary = json.loads(out.stdout)
    assert summary["scored"] == 0, summary  # before: "de" scored as German with the Russian pack, 100/100
    (failure,) = summary["failures"]
    assert expect in failure["reason"] and "sidecar" in failure["reason"], failure
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------------------------ 4. CSV formula injection
FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_no_csv_cell_starts_a_formula(tmp_path):
    rec = tmp_path / "rec"
    make_calls(rec, 2)  # agents 1040 and 1041 by their MixMonitor names
    cfg = write_config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('name = "Anna Ivanova", department = "Sales"',
                        f"name = {json.dumps(FORMULAS[0])}, department = {json.dumps(FORMULAS[1])}")
    text = text.replace('name = "Boris Petrov", department = "Support"',
                        f"name = {json.dumps(FORMULAS[3])}, department = {json.dumps(FORMULAS[4])}")
    cfg.write_text(text, encoding="utf-8")
    db = tmp_path / "calls.db"
    assert batch(rec, cfg, db, "--workers", "1").returncode == 0
    out = invoke("report", "--format", "csv", "--db", str(db), config_path=cfg)
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.output)))
    assert len(rows) == 3 and any(FORMULAS[0] in cell for row in rows for cell in row)  # kept, made harmless
    bad = [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not bad, bad  # before: =HYPERLINK(...) went into the file as it is


# ------------------------------------------------------------------ 5. secrets in error lines
def test_a_secret_never_appears_in_a_config_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sip]\npassword = 98127634\n")
    line = one_line(invoke("transcribe", "x.wav", config_path=cfg))
    assert "[sip] password must be a string" in line and "98127634" not in line


@pytest.mark.parametrize("url", ["postgresql://qa:Secr3tPG@db.example:notaport/calls",
                                 "postgresql:/qa:Secr3tPG@db.example/calls"])
def test_a_bad_database_url_never_shows_its_password(url):
    line = one_line(invoke("calls", "list", "--db", url))
    assert "bad database URL" in line and "Secr3tPG" not in line and "qa:***@" in line


# ------------------------------------------------------------------ 6. user text printed, never parsed
def test_square_brackets_and_newlines_in_a_path_are_printed_as_they_are(tmp_path):
    rec = tmp_path / "night[" / "x]" / "calls"
    (path,) = make_calls(rec, 1)
    odd = path.with_name("line\nbreak.wav")
    path.rename(odd)
    cfg, db = write_config(tmp_path), tmp_path / "calls.db"
    out = subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(tmp_path / "night["), "--db", str(db),
                          "--workers", "1"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]  # before: rich.errors.MarkupError after the call was saved
    progress = [line for line in out.stderr.splitlines() if line.startswith("[1/1]")]
    assert len(progress) == 1 and "night[/x]/calls/line\\nbreak.wav" in progress[0], out.stderr


# ------------------------------------------------------------------ 7. the smaller ones
@pytest.mark.parametrize("content, expect", [
    ("[batch]\nworkers = -3\n", "[batch] workers must be at least 0"),
    ("[scoring]\nflag_below = nan\n", "[scoring] flag_below must be a finite number"),
    ("[transcription]\nmin_silence = inf\n", "[transcription] min_silence must be a finite number"),
])
def test_nonsense_numbers_in_the_config_are_refused(tmp_path, content, expect):
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    assert expect in one_line(invoke("transcribe", "x.wav", config_path=cfg))


def test_a_review_must_say_one_decision_who_and_why(db_url, scored_call):
    scored, result, _ = scored_call
    st = store.open_store(db_url)
    save_result(st, scored)
    _accounts(st)
    st.close()
    call = result["call"]["id"]
    base = ["review", call, "--db", db_url]
    pw = OLGA_PW + "\n"
    assert "one of them" in one_line(invoke(*base, "--confirm", "--dismiss", "--as", OLGA, "--note", "x", input=pw))
    assert "--note" in one_line(invoke(*base, "--confirm", "--as", OLGA, "--note", "  ", input=pw))
    assert "at most 200" in one_line(invoke(*base, "--confirm", "--as", "O" * 300, "--note", "x", input=pw))
    assert "at most 200" in one_line(invoke("appeal", call, "--db", db_url, "--as", "B" * 300, "--note", "x",
                                            input=pw))
    # Who decides is an account proved by its password, never a name typed after --by.
    assert "--by is no longer accepted" in invoke(*base, "--confirm", "--by", OLGA, "--note", "x").output
    assert "--as NAME" in one_line(invoke(*base, "--confirm", "--note", "x", input=pw))
    assert "wrong name or password" in one_line(invoke(*base, "--confirm", "--as", OLGA, "--note", "x",
                                                       input="guess\n"))
    assert "wrong name or password" in one_line(invoke(*base, "--confirm", "--as", "Nobody", "--note", "x",
                                                       input=pw))
    # An agent cannot review, and cannot appeal a call that is not theirs.
    assert "may not record a review" in one_line(invoke(*base, "--confirm", "--as", "Anna Ivanova", "--note", "x",
                                                        input="anna-Pa55word\n"))
    assert "may not record an appeal" in one_line(invoke("appeal", call, "--db", db_url, "--as", OLGA, "--note", "x",
                                                         input=pw))
    history = json.loads(invoke("report", "--format", "json", "--db", db_url).output)["calls"][0]["decisions"]
    assert history == []  # nothing half-decided was recorded
    # The agent's own appeal is recorded under her account.
    assert invoke("appeal", call, "--db", db_url, "--as", "Anna Ivanova", "--note", "x",
                  input="anna-Pa55word\n").exit_code == 0
    history = json.loads(invoke("report", "--format", "json", "--db", db_url).output)["calls"][0]["decisions"]
    assert [(d["decision"], d["by"]) for d in history] == [("appealed", "Anna Ivanova")]


def test_a_batch_reports_what_it_queued_even_when_another_batch_took_the_calls_over(tmp_path, scored_call):
    """Two batches on one folder: the second resumes the first one's queued calls. The first batch's
    summary still counts the calls it queued and its workers scored (before: "scored 0")."""
    from callaudit import config
    from callaudit.jobs.batch import enqueue
    from callaudit.jobs.runs import Tally, begin_run, finish_run
    from callaudit.jobs.workers import WorkerSettings, run_worker
    from callaudit.sources.metadata import MetadataReader

    rec = tmp_path / "rec"
    files = make_calls(rec, 3)
    cfg = config.load(write_config(tmp_path))
    st = store.open_store(str(tmp_path / "calls.db"))
    reader = MetadataReader(cfg)
    first = begin_run(st, "batch", {})
    enq = enqueue(st, files, reader, run_id=first, language="en")
    second = begin_run(st, "batch", {})
    assert len(enqueue(st, files, reader, run_id=second, language="en").queued) == 3  # resumed by the second
    tally = Tally()
    run_worker(WorkerSettings(db=str(st.url), config=cfg, rules=None, run_id=first), tally.add)
    summary = finish_run(st, first, enq, tally)
    assert summary["processed_here"]["scored"] == 3
    assert summary["scored"] == 3 and summary["queued"] == 3 and summary["pending"] == 0, summary
    st.close()


# ------------------------------------------------------------------ the corpus
def test_a_corpus_of_odd_files_beside_good_calls(tmp_path):
    """Every kind of file a recording folder ends up holding: the batch finishes in time, each bad file is
    one stored line with its reason, each good call is scored once."""
    from storehelp import malformed_files

    rec = tmp_path / "rec"
    good = make_calls(rec / "good", 3)
    odd = rec / "odd"
    expected = {p.name: reason for p, reason in malformed_files(odd, good[0]).items()}
    os.mkfifo(odd / "fifo.wav")
    os.mkfifo(odd / "fifo.mp3")
    (odd / "zero.wav").symlink_to("/dev/zero")
    (odd / "null.flac").symlink_to("/dev/null")
    (odd / "urandom.ogg").symlink_to("/dev/urandom")
    (odd / "loop-1.wav").symlink_to(odd / "loop-2.wav")
    (odd / "loop-2.wav").symlink_to(odd / "loop-1.wav")
    (odd / "dangling.wav").symlink_to(odd / "nowhere.wav")
    (odd / "folder.wav").mkdir()
    (odd / "folder.wav" / "inside.txt").write_text("not a recording")
    (odd / "weird names" / "a[").mkdir(parents=True)  # with the file below: …/a[/x] [bold].wav
    for name in ("a[/x] [bold].wav", 'quotes "double" \'single\'.wav', "new\nline.wav", "tab\tname.wav"):
        (odd / "weird names" / name).write_bytes(b"RIFF....WAVEjunk " + name.encode())  # each its own content
    os.chmod(odd / "weird names" / "tab\tname.wav", 0)
    side = good[1]
    side.with_name(side.name + ".json").write_text('{"extension": 1042, "language": ["en"]}')
    sidecar_lang = make_calls(rec / "lang", 2, first=10)
    sidecar_lang[0].with_name(sidecar_lang[0].name + ".json").write_text('{"language": "klingon"}')
    sidecar_lang[1].with_name(sidecar_lang[1].name + ".json").write_text("{not json")
    files_total = sum(1 for p in rec.rglob("*") if p.suffix.lower() in (".wav", ".mp3", ".flac", ".ogg", ".opus")
                      and not p.is_dir() and not p.name.endswith(".json"))
    assert files_total >= 30, files_total
    cfg, db = write_config(tmp_path), tmp_path / "calls.db"
    out = batch(rec, cfg, db, "--workers", "1", timeout=600)
    assert out.returncode == 1, out.stderr[-3000:]  # failures are reported, the batch itself finished
    summary = json.loads(out.stdout)
    failures = {f["file"]: f["reason"] for f in summary["failures"]}
    for name, reason in expected.items():
        hit = [r for f, r in failures.items() if Path(f).name == name or f.endswith(name.encode(
            "utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))]
        assert hit and reason in hit[0], (name, reason, hit)
    scored = {Path(c["file"]).name for c in summary["calls"] if c["status"] == "scored"}
    assert scored == {good[0].name, good[2].name}, summary["calls"]
    bad = len(expected) + 8 + 4 + 3  # malformed, unreadable (FIFOs, devices, links), junk, bad sidecars
    assert summary["failed"] == bad, " | ".join(sorted(Path(f).name for f in failures))
    # Each bad file is one stored line; every good call is scored exactly once.
    stored = json.loads(invoke("calls", "list", "--status", "failed", "--limit", "500", "--db", str(db),
                               "--json").output)
    assert len(stored) == len({r["file"] for r in stored}) == bad
    ok = json.loads(invoke("calls", "list", "--status", "scored", "--db", str(db), "--json").output)
    assert len(ok) == len({r["sha256"] for r in ok}) == len(scored)
    # Running it again changes nothing: the same lines, no second score.
    again = json.loads(batch(rec, cfg, db, "--workers", "1", timeout=600).stdout)
    before = [s for s in again["skipped_files"] if s["reason"].startswith("failed before")]
    assert again["queued"] == 0 and again["failed"] + len(before) == bad, again  # unreadable ones: again
    stored_again = json.loads(invoke("calls", "list", "--status", "failed", "--limit", "500", "--db", str(db),
                                     "--json").output)
    assert sorted(r["file"] for r in stored_again) == sorted(r["file"] for r in stored)
    assert len(json.loads(invoke("calls", "list", "--status", "scored", "--db", str(db), "--json").output)) == len(ok)
