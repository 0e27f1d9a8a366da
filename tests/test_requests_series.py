"""Issue #12 end to end: fourteen calls over three days, spoken by festival (Russian) and piper/flite
(English), named like MixMonitor recordings, batch-scored day by day (base for Russian, tiny.en for
English) by the real `callaudit batch`; the requests it follows, their statuses after each night, the
agent charged and the evidence chain; re-running and rescoring; a call without usable metadata; the
HTML report in Chromium, the PDF through pdftotext, the service-problems CSV read back."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from requests_series import EXPECTED, SERIES, UNKNOWN

from callaudit.digest import sha256_of
from callaudit.sources.series import build_series
from callaudit.sources.voices import build_call

pytestmark = pytest.mark.slow

CONFIG = """
[store]
db = "calls.db"
[model]
threads = 2
[requests]
grace_minutes = 30.0
[roster]
agents = [
  { extension = "1040", name = "Anna Ivanova", department = "Support" },
  { extension = "1041", name = "Boris Petrov", department = "Support" },
  { extension = "1042", name = "Clara Smith", department = "Support" },
  { extension = "1043", name = "Dan Brown", department = "Support" },
]
"""
# MixMonitor names carry the PBX's local time: the PBX (and this batch) run in Moscow.
OLGA_PW = "olga-hr-Pa55word"
ENV = {**os.environ, "TZ": "Europe/Moscow", "OMP_NUM_THREADS": "2"}


def cli(*args: str, cwd: Path, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "callaudit.cli", *args], capture_output=True, text=True, cwd=cwd,
                         env=ENV, input=stdin)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def batch(root: Path, folder: Path, lang: str, *extra: str) -> dict:
    model = "tiny.en" if lang == "en" else "base"
    out = cli("batch", str(folder), "--lang", lang, "--model", model, "--json", *extra, cwd=root)
    return json.loads(out.stdout)


def listing(root: Path, *args: str) -> list[dict]:
    return json.loads(cli("requests", "list", "--json", *args, cwd=root).stdout)


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """The series batch-scored night by night; the listing after each day, each call's id by its key."""
    root = tmp_path_factory.mktemp("office")
    (root / "callaudit.toml").write_text(CONFIG, encoding="utf-8")
    ids, folders = {}, {}
    for (day, lang), calls in SERIES.items():
        folder = root / f"day{day}" / lang
        for (key, _), path in zip(calls, build_series(folder, [c for _, c in calls])):
            ids[key] = sha256_of(path)[:16]
        folders[(day, lang)] = folder
    call, name = UNKNOWN
    bad = root / "day3" / "ru" / name
    build_call(bad, list(call.lines), "ru")
    when = call.start.replace(tzinfo=ZoneInfo("Europe/Moscow")).timestamp()
    os.utime(bad, (when, when))
    ids["unknown"] = sha256_of(bad)[:16]
    days, summaries = {}, {}
    for day in (1, 2, 3):
        for lang in ("en", "ru"):
            if (day, lang) in folders:
                summaries[(day, lang)] = batch(root, folders[(day, lang)], lang)
        days[day] = listing(root)
    return root, ids, days, summaries, folders


def by_call(items: list[dict], ids: dict, key: str) -> list[dict]:
    """The requests with a commitment made in the call `key`."""
    return [j for j in items if j["call"] == ids[key] and j["commitment"]]


def one(items, ids, key) -> dict:
    found = by_call(items, ids, key)
    assert len(found) == 1, (key, [(j["id"], j["request"], j["commitment"]) for j in by_call(items, ids, key)])
    return found[0]


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(k in it for k in part)


def test_each_night_updates_the_requests_of_the_nights_before(office):
    _, ids, days, summaries, _ = office
    assert all(s["failed"] == 0 and s["requests"]["skipped"] is None for s in summaries.values()), summaries
    day1 = {k: one(days[1], ids, k)["status"] for k in ("C1a", "C2a", "C3a", "E1")}
    assert day1 == {"C1a": "fulfilled", "C2a": "open", "C3a": "open", "E1": "open"}
    day2 = {k: one(days[2], ids, k)["status"] for k in ("C2a", "C3a", "E1", "C5a", "E2a", "E3a")}
    assert day2 == {"C2a": "late", "C3a": "overdue", "E1": "overdue", "C5a": "open", "E2a": "fulfilled",
                    "E3a": "fulfilled"}
    # Monday's overdue promise to C3 gains Wednesday's repeat call in its chain, and stays overdue.
    c3 = one(days[3], ids, "C3a")
    assert c3["status"] == "overdue" and any(e["kind"] == "not_done" and e["call"] == ids["C3b"]
                                             for e in c3["evidence"])


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_status_agent_charged_and_evidence_chain(office, key):
    _, ids, days, _, _ = office
    want, got = EXPECTED[key], one(days[3], ids, key)
    assert (got["status"], got["agent"], got["charged"]) == (want["status"], want["agent"], want["charged"]), got
    assert got["due"].startswith(want["due"]) and got["due_source"] == want["source"], got
    kinds = [e["kind"] for e in got["evidence"]]
    assert is_subsequence(want["chain"], kinds), kinds
    if want["charged"]:
        f = got["finding"]
        assert f["rule"] == "request-fulfilment" and f["passed"] is False and f["agent"] == want["charged"]
        assert got["doubt"] is None
    assert got["customer"].startswith(("+7 916 ***", "+44 7911 ****")), got["customer"]  # masked
    if want["status"] in ("fulfilled", "late"):
        done = got["evidence"][-1]
        assert done["kind"] in ("done", "confirmed", "callback") and done["at"] == got["fulfilled_at"]


def test_a_request_with_no_commitment_is_left_to_the_in_call_rule(office):
    root, ids, days, _, _ = office
    c4 = [j for j in days[3] if j["call"] == ids["C4"]]
    assert [j["status"] for j in c4] == ["no-commitment"] and c4[0]["request"]["quote"]
    shown = json.loads(cli("calls", "show", ids["C4"], "--json", cwd=root).stdout)
    handling = next(f for f in shown["verdict"]["findings"] if f["rule"] == "request-handling")
    assert handling["status"] in ("failed", "not evaluated")  # no commitment: the in-call rule's to judge


def test_the_default_deadline_is_marked_as_such(office):
    _, ids, days, _, _ = office
    c5 = one(days[3], ids, "C5a")
    assert c5["due_source"] == "default" and "default_due_hours" in c5["commitment"]["explanation"]
    assert "(default)" in next(e for e in c5["evidence"] if e["kind"] == "deadline")["note"]


def test_a_call_without_usable_metadata_is_scored_and_its_customer_is_unknown(office):
    root, ids, days, summaries, _ = office
    assert summaries[(3, "ru")]["failed"] == 0 and summaries[(3, "ru")]["scored"] == 3
    shown = json.loads(cli("calls", "show", ids["unknown"], "--json", cwd=root).stdout)
    assert shown["call"]["status"] == "scored" and shown["verdict"]["findings"]
    got = [j for j in days[3] if j["call"] == ids["unknown"]]
    assert got and all(j["status"] == "customer-unknown" and j["customer"] == "customer unknown" for j in got)
    assert all(j["charged"] is None and "file mtime" in j["call_time_source"] for j in got)
    assert got[0]["call_time"].startswith("2026-11-25T11:30")
    # A call timed only by its file does not move the moment statuses are judged at.
    assert all(j["as_of"].startswith("2026-11-25T16:00") for j in days[3])


def stable(items: list[dict]) -> list[tuple]:
    return sorted((j["id"], j["status"], j["due"], j["charged"], tuple((e["kind"], e["call"]) for e in j["evidence"]))
                  for j in items)


def test_rerunning_and_rescoring_change_nothing_that_should_not_change(office):
    root, ids, days, _, folders = office
    before = stable(days[3])
    again = batch(root, folders[(1, "ru")], "ru")
    assert again["queued"] == 0 and again["requests"]["read"] == 0 and again["requests"]["changed"] == {}
    target = next(p for p in folders[(1, "ru")].iterdir() if sha256_of(p)[:16] == ids["C2a"])
    rescored = batch(root, target, "ru", "--rescore")
    assert rescored["scored"] == 1 and rescored["requests"]["read"] == 1 and rescored["requests"]["changed"] == {}
    after = listing(root)
    assert stable(after) == before and len(after) == len(days[3])
    shown = json.loads(cli("calls", "show", ids["C2a"], "--json", cwd=root).stdout)
    assert len(shown["scores"]) == 2  # the old verdict is kept, its requests replaced


def test_customers_show_and_closing_by_hand(office, tmp_path):
    root, ids, days, _, _ = office
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(root / "callaudit.toml", copy)
    shutil.copy(root / "calls.db", copy / "calls.db")
    page = json.loads(cli("customers", "show", "8 (916) 333-44-55", "--json", cwd=copy).stdout)
    assert [c["call"] for c in page["calls"]] == [ids["C3a"], ids["C3b"]]
    assert [c["direction"] for c in page["calls"]] == ["inbound", "inbound"] and page["open"] == 2
    text = cli("customers", "show", "+79163334455", cwd=copy).stdout
    assert "+7 916 ***-**-55" in text and "3334455" not in text
    c3 = one(days[3], ids, "C3a")
    cli("users", "add", "Olga HR", "--role", "hr", "--password-stdin", cwd=copy, stdin=OLGA_PW + "\n")
    out = cli("requests", "close", c3["id"], "--note", "the technician came on Thursday, confirmed by phone",
              "--as", "Olga HR", cwd=copy, stdin=OLGA_PW + "\n")
    assert "closed by Olga HR" in out.stdout
    closed = next(j for j in listing(copy) if j["id"] == c3["id"])
    assert closed["status"] == "closed" and closed["charged"] is None
    assert closed["evidence"][-1]["who"] == "Olga HR"
    assert [j["id"] for j in listing(copy, "--status", "overdue", "--agent", "1040")] == []
    bad = cli("requests", "close", "zz", "--note", "x", cwd=copy, check=False)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_list_filters_and_human_output(office):
    root, ids, _, _, _ = office
    overdue = listing(root, "--status", "overdue")
    assert {j["call"] for j in overdue} == {ids["C3a"], ids["C5a"], ids["E1"]}
    assert {j["id"] for j in listing(root, "--agent", "1041", "--status", "late")} == {one(overdue + listing(root), ids, "C2a")["id"]}
    assert {j["call"] for j in listing(root, "--customer", "8 916 222-33-44")} == {ids["C2a"]}
    assert listing(root, "--period", "2026-11-23") and not listing(root, "--period", "2026-10")
    text = cli("requests", "list", cwd=root).stdout
    assert "overdue" in text and "fulfilled" in text and "+7 916 ***-**-55" in text and "9163334455" not in text


@pytest.fixture(scope="module")
def reports(office):
    root = office[0]
    cli("report", "--period", "2026-11", "-o", "report.html", cwd=root)
    cli("report", "--period", "2026-11", "--format", "pdf", "-o", "report.pdf", cwd=root)
    pdf = subprocess.run(["pdftotext", "-layout", str(root / "report.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    return root / "report.html", pdf


def test_the_html_report_shows_commitments_not_kept_with_their_chain(office, reports, output_dir):
    from playwright.sync_api import sync_playwright

    root, ids, days, _, _ = office
    html, _ = reports
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.as_uri())
        page.wait_for_function("[...document.querySelectorAll('audio.clip')].every(a => a.dataset.ready)")
        shown = page.locator("section.commitment").evaluate_all(
            "ss => ss.map(s => [s.dataset.agent, s.dataset.status, [...s.querySelectorAll('li.link')].map(l => l.dataset.kind)])")
        assert sorted((a, st) for a, st, _ in shown) == [("1040", "overdue"), ("1041", "late"), ("1041", "overdue"),
                                                         ("1042", "overdue")]
        c3 = next(k for a, st, k in shown if a == "1040")
        assert is_subsequence(["commitment", "deadline", "not_done"], c3)
        clips = page.locator("section.commitment li.commitment audio.clip").count()
        assert clips == 4  # each commitment's own words, to listen to
        boris = page.locator("tr.agent-row[data-agent='1041']").inner_text()
        # Two commitments not kept (C2a late, C5a overdue) and C5a's in-call request-handling failure (no time
        # said, only «мы вам перезвоним»): three major violations, the ladder's third step — unless that
        # in-call rule could not be judged, which costs the agent nothing (a miss, never a wrong fail).
        shown = json.loads(cli("calls", "show", ids["C5a"], "--json", cwd=root).stdout)
        handling = next(f for f in shown["verdict"]["findings"] if f["rule"] == "request-handling")
        assert handling["status"] in ("failed", "not evaluated"), handling
        if handling["status"] == "failed":
            assert "final warning" in boris and "3 major" in boris, boris
        else:
            assert "written reprimand" in boris and "2 major" in boris, boris
        problems = page.locator("tr.problem").evaluate_all("rs => rs.map(r => r.dataset.topics)")
        assert {"no-connection", "billing", "slow-speed"} <= {t for x in problems for t in x.split(";")}
        assert "9163334455" not in page.content()
        page.screenshot(path=str(output_dir / "requests-report.png"), full_page=True)
        browser.close()
    assert not errors
    if handling["status"] == "not evaluated":
        # Measured 2026-12-01: Whisper writes C5a's greeting and request as one sentence («Доброе День, я бы
        # хотел подключить у вас телевидение.»), which scores +0.64 for `request` (threshold +0.70): only a
        # possible request, so the commitment without a deadline is not judged.
        pytest.xfail(f"C5a's request-handling: {handling['detail']}")


def test_the_pdf_shows_each_agents_commitments_not_kept(reports):
    _, pdf = reports
    assert "Commitments not kept" in pdf and "OVERDUE" in pdf and "LATE" in pdf
    assert "Service problems reported" in pdf and "9163334455" not in pdf.replace(" ", "")
    page_1041 = next(p for p in pdf.split("\f") if "Agent: 1041" in p)
    assert page_1041.count("OVERDUE") + page_1041.count("LATE") == 2


def test_the_service_problems_csv_round_trips(office, tmp_path):
    root, ids, _, _, _ = office
    cli("requests", "problems", "--period", "2026-11", "--format", "csv", "-o", str(tmp_path / "p.csv"), cwd=root)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text(encoding="utf-8"))))
    assert {r["call"] for r in rows} >= {ids["C1a"], ids["C2a"], ids["C3a"], ids["E1"]}
    assert all(r["customer"].startswith(("'+7 916 ***", "'+44 7911 ****")) for r in rows)  # "+": formula-safe
    assert {r["resolved"] for r in rows if r["call"] == ids["C1a"]} == {"True"}
    assert {r["resolved"] for r in rows if r["call"] == ids["C3a"]} == {"False"}
    as_json = json.loads(cli("requests", "problems", "--period", "2026-11", "--format", "json", cwd=root).stdout)
    assert [{k: str(v) for k, v in r.items()} for r in as_json] == [
        {k: v[1:] if v.startswith(("'+", "'=")) else v for k, v in r.items()} for r in rows]
