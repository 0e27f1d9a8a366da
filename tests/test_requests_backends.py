"""Requests followed across calls on both stores: the demo's short series (Festival voices through a phone
line, two customers over two days, sidecars giving the times and numbers) batch-scored by the real
`callaudit batch` into SQLite and into a real PostgreSQL server, and the same statuses, agents charged and
evidence chains come out of both; re-running and rescoring change nothing; closing by hand under an hr
account works on both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from callaudit.digest import sha256_of
from callaudit.sources.series import build_demo_series

pytestmark = pytest.mark.slow

OLGA_PW = "olga-hr-Pa55word"
ENV = {**os.environ, "OMP_NUM_THREADS": "2"}
SEEN: dict[str, list[tuple]] = {}  # backend -> what the listing said, to compare the two


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "callaudit.cli", *args], capture_output=True, text=True, cwd=cwd,
                         env=ENV, input=stdin)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def listing(root: Path, *args: str) -> list[dict]:
    return json.loads(cli("requests", "list", "--json", *args, cwd=root).stdout)


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    return [(p, sha256_of(p)[:16]) for p in build_demo_series(folder)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def office(request, calls, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"office-{request.param}")
    db = "calls.db"
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = f"t_{uuid.uuid4().hex[:12]}"
        server.admin(f"CREATE DATABASE {name}")
        db = server.url(name)
    (root / "callaudit.toml").write_text(f'[store]\ndb = "{db}"\n[model]\nthreads = 2\n', encoding="utf-8")
    summary = json.loads(cli("batch", str(calls[0][0].parent), "--lang", "ru", "--model", "base", "--json",
                             cwd=root).stdout)
    return request.param, root, summary


def by_call(items: list[dict], call: str) -> dict:
    found = [j for j in items if j["call"] == call and j["commitment"]]
    assert len(found) == 1, [(j["call"], j["status"]) for j in items]
    return found[0]


def test_statuses_charged_agents_and_chains(office, calls):
    backend, root, summary = office
    assert summary["failed"] == 0 and summary["requests"]["skipped"] is None, summary
    got = listing(root)
    (_, kept), (_, missed), (_, callback), (_, again) = calls
    k, m, o = by_call(got, kept), by_call(got, missed), by_call(got, again)
    assert (k["status"], k["agent"], k["charged"]) == ("fulfilled", "1040", None)
    assert k["evidence"][-1]["call"] == callback and k["fulfilled_at"].startswith("2026-11-25T15:40")
    assert (m["status"], m["agent"], m["charged"], m["doubt"]) == ("overdue", "1041", "1041", None)
    assert m["due"].startswith("2026-11-26T12:00") and m["due_source"] == "said"
    kinds = [(e["kind"], e["call"]) for e in m["evidence"]]
    assert kinds[:2] == [("problem", missed), ("commitment", missed)] and ("deadline", None) in kinds
    assert ("not_done", again) in kinds  # the customer calling again: nobody came
    assert m["finding"]["rule"] == "request-fulfilment" and m["finding"]["passed"] is False
    assert o["status"] == "open" and o["agent"] == "1040"
    SEEN[backend] = sorted((j["id"], j["status"], j["due"], j["charged"],
                            tuple((e["kind"], e["call"], e["at"]) for e in j["evidence"])) for j in got)


def test_both_stores_say_the_same(office):
    if len(SEEN) < 2:
        pytest.skip("compared once both backends ran")
    assert SEEN["sqlite"] == SEEN["postgresql"]


def test_rerunning_and_rescoring_change_nothing(office, calls):
    _, root, _ = office
    before = listing(root)
    again = json.loads(cli("batch", str(calls[0][0].parent), "--lang", "ru", "--model", "base", "--json",
                           cwd=root).stdout)
    assert again["queued"] == 0 and again["requests"]["changed"] == {}
    rescored = json.loads(cli("batch", str(calls[1][0]), "--lang", "ru", "--model", "base", "--rescore", "--json",
                              cwd=root).stdout)
    assert rescored["scored"] == 1 and rescored["requests"]["read"] == 1 and rescored["requests"]["changed"] == {}
    assert listing(root) == before


def test_closing_by_hand_under_an_hr_account(office, calls):
    _, root, _ = office
    cli("users", "add", "Olga HR", "--role", "hr", "--password-stdin", cwd=root, stdin=OLGA_PW + "\n")
    missed = by_call(listing(root), calls[1][1])
    out = cli("requests", "close", missed["id"], "--note", "the technician came, confirmed by phone",
              "--as", "Olga HR", cwd=root, stdin=OLGA_PW + "\n")
    assert "closed by Olga HR" in out.stdout
    closed = by_call(listing(root), calls[1][1])
    assert closed["status"] == "closed" and closed["charged"] is None and closed["evidence"][-1]["who"] == "Olga HR"
    assert listing(root, "--status", "overdue") == []
