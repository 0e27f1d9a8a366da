"""HR reports from a real store: calls scored by `callaudit batch` from generated recordings of real
speech; the HTML checked in headless Chromium, the PDF through pdftotext, exports round-tripped,
and dictated numbers masked everywhere."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from callaudit.sources.samples import BAD_CALL, GOOD_CALL, build, say

pytestmark = pytest.mark.slow

# A customer dictating a phone number digit by digit (real recorded voice), and a card number.
PHONE = "89161234567"
DICTATION = [
    say("agent", "hello", at=0.5),
    say("customer", *[f"digits/{d}" for d in PHONE], gap=0.8),
    say("agent", "auth-thankyou", gap=0.8),
    say("agent", "goodbye", gap=0.8),
]
CARD = "4111 1111 1111 1111"
SCRIPT = "<script>alert(1)</script>"


OLGA_PW, BORIS_PW = "olga-hr-Pa55word", "boris-Pa55word"


def run(*args: str, cwd: Path, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "callaudit.cli", *args], capture_output=True, text=True, cwd=cwd,
                         input=stdin)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """A folder with a config, three recordings batch-scored into SQLite, one transcript turn altered
    to hold hostile markup and a card number, a dismissal and an appeal."""
    root = tmp_path_factory.mktemp("office")
    (root / "callaudit.toml").write_text('''
[store]
db = "calls.db"

[roster]
agents = [
  { extension = "1040", name = "Anna Ivanova", department = "Support" },
  { extension = "1041", name = "Boris Petrov", department = "Support" },
  { extension = "1042", name = "Clara Smith", department = "Sales" },
]
''')
    rec = root / "monitor"
    calls = {"good": ("en", GOOD_CALL, 1040), "bad": ("en", BAD_CALL, 1041), "digits": ("ru", DICTATION, 1042)}
    for name, (lang, lines, ext) in calls.items():
        path = rec / f"{name}-20261112-0930{ext % 100:02d}-{ext}-79001234567-1762939800.{ext}.wav"
        build(path, lines, lang)
        Path(str(path) + ".json").write_text(json.dumps({"language": lang}))
    run("batch", str(rec), cwd=root)
    listing = json.loads(run("calls", "list", "--json", cwd=root).stdout)
    ids = {Path(c["file"]).name.split("-")[0]: c["id"] for c in listing}

    # Hostile text in a stored transcript: the report must show it, not run it.
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{root / 'calls.db'}")
    with engine.begin() as conn:
        row = conn.execute(sa.text("SELECT s.id, s.verdict FROM scores s JOIN calls c ON c.id = s.call_id "
                                   "WHERE c.sha256 LIKE :p AND s.is_current"), {"p": ids["bad"] + "%"}).one()
        verdict = json.loads(row.verdict)
        verdict["transcript"][1]["text"] = f"{SCRIPT} my card is {CARD}"
        conn.execute(sa.text("UPDATE scores SET verdict = :v WHERE id = :i"),
                     {"v": json.dumps(verdict, ensure_ascii=False), "i": row.id})
    engine.dispose()

    # Decisions are recorded under accounts, each proved by its password on stdin.
    run("users", "add", "Olga HR", "--role", "hr", "--password-stdin", cwd=root, stdin=OLGA_PW + "\n")
    run("users", "add", "Boris Petrov", "--role", "agent", "--extension", "1041", "--password-stdin", cwd=root,
        stdin=BORIS_PW + "\n")
    run("review", ids["bad"], "--finding", "interruptions", "--dismiss", "--as", "Olga HR",
        "--note", "the customer paused; not an interruption", cwd=root, stdin=OLGA_PW + "\n")
    run("review", ids["bad"], "--finding", "forbidden-phrases", "--confirm", "--as", "Olga HR",
        "--note", "heard on the clip", cwd=root, stdin=OLGA_PW + "\n")
    run("appeal", ids["bad"], "--as", "Boris Petrov", "--note", "the line was bad", cwd=root, stdin=BORIS_PW + "\n")
    return root, ids


@pytest.fixture(scope="module")
def html_report(office):
    root, _ = office
    run("report", "--period", "2026-11", "-o", "report.html", cwd=root)
    return root / "report.html"


def test_dictated_number_was_transcribed_and_is_masked_everywhere(office, html_report):
    root, ids = office
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{root / 'calls.db'}")
    with engine.connect() as conn:
        said = " ".join(conn.execute(sa.text("SELECT t.text FROM turns t JOIN scores s ON s.id = t.score_id "
                                             "JOIN calls c ON c.id = s.call_id WHERE c.sha256 LIKE :p"),
                                     {"p": ids["digits"] + "%"}).scalars())
    engine.dispose()
    assert len(re.sub(r"\D", "", said)) >= 10, f"precondition: the dictated number is in the store: {said}"
    outputs = {"html": html_report.read_text(), "calls show": run("calls", "show", ids["digits"], "--json", cwd=root).stdout}
    for fmt in ("csv", "json"):
        outputs[fmt] = run("report", "--period", "2026-11", "--format", fmt, cwd=root).stdout
    run("report", "--period", "2026-11", "--format", "pdf", "-o", "r.pdf", cwd=root)
    outputs["pdf"] = subprocess.run(["pdftotext", "-layout", str(root / "r.pdf"), "-"], capture_output=True,
                                    text=True, check=True).stdout
    for fmt, text in outputs.items():
        squeezed = re.sub(r"[\s\-()+]", "", text)
        assert PHONE[1:] not in squeezed, fmt
        assert CARD.replace(" ", "") not in squeezed, fmt
    for fmt in ("html", "json"):  # the formats that carry transcripts
        assert "[card number]" in outputs[fmt] and "[phone number]" in outputs[fmt], fmt
    assert "[phone number]" in outputs["calls show"]


def test_html_report_in_chromium(office, html_report, output_dir):
    from playwright.sync_api import sync_playwright

    root, ids = office
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(html_report.as_uri())
        page.wait_for_function("[...document.querySelectorAll('audio.clip')].every(a => a.dataset.ready)")

        flagged = page.locator("tr.flagged-call").evaluate_all("rs => rs.map(r => r.dataset.call)")
        assert ids["bad"] in flagged and ids["good"] not in flagged
        agents = page.locator("tr.agent-row").evaluate_all("rs => rs.map(r => r.textContent)")
        assert any("Boris Petrov" in a for a in agents) and any("Anna Ivanova" in a for a in agents)
        bad = page.locator(f"section#call-{ids['bad']}")
        failed = bad.locator("tr.finding.failed").evaluate_all("rs => rs.map(r => r.dataset.rule)")
        assert "forbidden-phrases" in failed and "greeting" in failed
        assert bad.locator("tr.finding.dismissed[data-rule=interruptions]").count() == 1

        # Every clip opens at its finding's moment.
        clips = page.locator("audio.clip").evaluate_all(
            "as => as.map(a => [a.currentTime, parseFloat(a.dataset.seek), a.duration])")
        assert clips and all(abs(t - seek) < 0.05 and d > seek for t, seek, d in clips), clips

        # Hostile transcript text shows as text and runs nothing.
        assert bad.get_by_text(SCRIPT, exact=False).count() == 1
        assert not dialogs
        page.screenshot(path=str(output_dir / "hr-report.png"), full_page=True)
        browser.close()
    assert not errors, errors


def test_pdf_holds_agent_period_violations_and_recommended_step(office):
    root, _ = office
    run("report", "--period", "2026-11", "--agent", "1041", "--format", "pdf", "-o", "boris.pdf", cwd=root)
    text = subprocess.run(["pdftotext", "-layout", str(root / "boris.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Boris Petrov" in text and "2026-11" in text
    assert "forbidden-phrases (critical)" in text and "response-time (major)" in text
    assert "recommended for HR to consider: final warning" in text
    assert "page 1 of" in text and "Employee:" in text and "HR:" in text
    assert "dismissed by Olga HR" in text and "appealed by Boris Petrov" in text


def test_dismissed_finding_stops_counting_toward_the_ladder(office):
    root, ids = office
    data = json.loads(run("report", "--period", "2026-11", "--agent", "1041", "--format", "json", cwd=root).stdout)
    boris = data["agents"][0]
    bad = next(c for c in data["calls"] if c["call"] == ids["bad"])
    failed_major = [f for f in bad["findings"] if f["status"] == "failed" and f["severity"] in ("major", "critical")]
    assert boris["offences"] == len(failed_major)
    run("review", ids["bad"], "--finding", "response-time", "--dismiss", "--as", "Olga HR", "--note", "hold", cwd=root,
        stdin=OLGA_PW + "\n")
    after = json.loads(run("report", "--period", "2026-11", "--agent", "1041", "--format", "json", cwd=root).stdout)
    assert after["agents"][0]["offences"] == boris["offences"] - 1
    decisions = next(c for c in after["calls"] if c["call"] == ids["bad"])["decisions"]
    assert [d["decision"] for d in decisions] == ["dismissed", "confirmed", "appealed", "dismissed"]


def test_csv_and_json_exports_round_trip(office):
    root, _ = office
    rows = list(csv.DictReader(io.StringIO(run("report", "--period", "2026-11", "--format", "csv", cwd=root).stdout)))
    data = json.loads(run("report", "--period", "2026-11", "--format", "json", cwd=root).stdout)
    assert len(rows) == len(data["calls"]) == 3
    for row, call in zip(rows, data["calls"]):
        assert row["call"] == call["call"] and float(row["score"]) == call["score"]
        assert row["flagged"] == str(call["flagged"]) and row["failed_rules"] == call["failed_rules"]
        assert row["failed_rules"].split(";") == [f["rule"] for f in call["findings"] if f["status"] == "failed"] \
            or row["failed_rules"] == ""
    flagged = json.loads(run("report", "--period", "2026-11", "--flagged", "--format", "json", cwd=root).stdout)
    assert {c["call"] for c in flagged["calls"]} == {c["call"] for c in data["calls"] if c["flagged"]}
    empty = json.loads(run("report", "--period", "2026-10", "--format", "json", cwd=root).stdout)
    assert empty["calls"] == [] and empty["agents"] == []


def test_calibration_against_human_verdicts(office):
    root, ids = office
    data = json.loads(run("report", "--period", "2026-11", "--format", "json", cwd=root).stdout)
    tool = {(c["call"], f["rule"]): f["passed"] for c in data["calls"] for f in c["findings"]}
    good, bad = ids["good"], ids["bad"]
    assert tool[(good, "greeting")] is True and tool[(bad, "greeting")] is False
    human = root / "human.csv"
    # Humans agree on greeting for both calls, and disagree with the tool on the good call's closing.
    human.write_text("call,rule,verdict\n"
                     f"{good},greeting,pass\n{bad},greeting,fail\n{good},closing,fail\n{bad},closing,fail\n")
    out = json.loads(run("calibrate", str(human), "--json", cwd=root).stdout)
    by_rule = {r["rule"]: r for r in out if "rule" in r}
    assert by_rule["greeting"]["agreement"] == 1.0 and by_rule["greeting"]["kappa"] == 1.0
    assert by_rule["closing"]["confusion"]["human_fail/tool_pass"] == 1
    assert by_rule["all"]["n"] == 4 and by_rule["all"]["agreement"] == 0.75
    # Confusion [[1, 0], [1, 2]] (human pass/fail rows, tool pass/fail columns): observed agreement .75;
    # chance agreement .25 * .5 + .75 * .5 = .5; kappa = (.75 - .5) / (1 - .5) = .5
    assert abs(by_rule["all"]["kappa"] - 0.5) < 1e-9
    bad_csv = root / "bad.csv"
    bad_csv.write_text("call,rule,verdict\nx,greeting,maybe\n")
    out = run("calibrate", str(bad_csv), cwd=root, check=False)
    assert out.returncode != 0 and out.stderr.strip() == f"callaudit: error: {bad_csv}:2: verdict must be pass or fail, got 'maybe'"


def test_bad_period_is_one_line(office):
    root, _ = office
    out = run("report", "--period", "November", cwd=root, check=False)
    assert out.returncode != 0
    assert out.stderr.strip().startswith("callaudit: error: bad --period 'November'")
