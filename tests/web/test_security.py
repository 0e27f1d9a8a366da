"""The workspace attacked as a curious agent, a forged form or a password guesser would: against a real
`callaudit serve` on a store filled by batch, through Chromium and raw HTTP."""

from __future__ import annotations

import http.client
import re
import sqlite3

import pytest
from webhelp import ACCOUNTS, SCRIPT, cli, login, password, sqlite_copy, start_server, stop, write_config

pytestmark = pytest.mark.slow

PROXY = "127.0.0.2"  # the reverse proxy's address: the only one whose user header counts
PAGES = ["/", "/?show=all", "/calls/{bad1}", "/calls/{bad1}/audio", "/calls/{bad1}/clips/greeting", "/agents/1041",
         "/department", "/calibration", "/calibration/1", "/calibration/1/calls/1", "/listen-ins", "/view-log",
         "/account", "/logout"]
POSTS = ["/calls/{bad1}/review", "/calls/{bad1}/appeal", "/calls/{bad1}/acknowledge", "/calls/{bad1}/appeal-decision",
         "/calibration", "/account", "/logout"]


@pytest.fixture(scope="module")
def site(sqlite_master, tmp_path_factory):
    office = sqlite_copy(sqlite_master, tmp_path_factory.mktemp("security"))
    write_config(office.root, trusted_proxy_header="X-Remote-User", trusted_proxies=[PROXY])
    server = start_server(office)
    yield office, server
    stop(server)
    assert "Traceback" not in server.output(), server.output()


def _count(office, sql: str, **params) -> int:
    return office.sql(sql, **params)[0][0]


def _reviews(office) -> int:
    return _count(office, "SELECT count(*) FROM reviews")


def _csrf(page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value")


def test_every_page_without_a_session_goes_to_login(site, browser):
    office, server = site
    ctx = browser.new_context(base_url=server.url)
    before = _reviews(office)
    for url in PAGES:
        r = ctx.request.get(url.format(**office.ids), max_redirects=0)
        assert r.status == 303 and r.headers["location"].startswith("/login?next="), (url, r.status)
    for url in POSTS:
        r = ctx.request.post(url.format(**office.ids), form={"decision": "dismiss", "note": "x", "finding": "*"},
                             max_redirects=0)
        assert r.status == 303 and r.headers["location"].startswith("/login"), (url, r.status)
    assert _reviews(office) == before
    # The login page itself and the static files are open.
    assert ctx.request.get("/login").status == 200 and ctx.request.get("/static/call.js").status == 200
    ctx.close()


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_stores_nothing(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Olga HR")
    page.goto(f"/calls/{office.ids['bad1']}")
    good = _csrf(page)
    url = f"/calls/{office.ids['bad1']}/review"
    form = {"decision": "dismiss", "finding": "*", "note": "forged"}
    before = _reviews(office)
    for token in (None, "", "wrong", good[:-1] + ("x" if good[-1] != "x" else "y")):
        sent = form if token is None else {**form, "csrf": token}
        r = ctx.request.post(url, form=sent, max_redirects=0)
        assert r.status == 403, (token, r.status)
    assert _reviews(office) == before
    # The same form with the session's token is recorded (the check is not refusing everything).
    r = ctx.request.post(url, form={**form, "csrf": good}, max_redirects=0)
    assert r.status == 303 and _reviews(office) == before + 1
    # The login form has its own token: without it, no login.
    anon = browser.new_context(base_url=server.url)
    r = anon.request.post("/login", form={"name": "Olga HR", "password": password("Olga HR")}, max_redirects=0)
    assert r.status == 403 and "set-cookie" not in {k.lower() for k in r.headers}
    anon.close()
    ctx.close()


def _login_post(ctx, name: str, pw: str, target: str = "/"):
    html = ctx.request.get("/login").text()
    nonce = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    return ctx.request.post("/login", form={"csrf": nonce, "name": name, "password": pw, "next": target},
                            max_redirects=0)


def test_wrong_passwords_are_throttled_even_the_right_one_then(site, browser):
    office, server = site
    ctx = browser.new_context(base_url=server.url)
    for i in range(5):
        r = _login_post(ctx, "Victim HR", f"guess-{i}")
        assert r.status == 401 and "Wrong name or password" in r.text()
    r = _login_post(ctx, "Victim HR", password("Victim HR"))
    assert r.status == 429 and "too many failed logins" in r.text()
    # The CLI's door counts the same failures.
    out = cli("review", office.ids["bad1"], "--dismiss", "--note", "x", "--as", "Victim HR", "--db", office.db,
              cwd=office.root, stdin=password("Victim HR") + "\n", check=False)
    assert out.returncode != 0 and "too many failed logins" in out.stderr
    # Another account from the same address is not locked out.
    assert _login_post(ctx, "Olga HR", password("Olga HR")).status == 303
    ctx.close()


def test_session_cookies_are_httponly_and_samesite_and_secure_behind_tls(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Anna Ivanova")
    (cookie,) = [c for c in ctx.cookies() if c["name"] == "callaudit_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False
    assert page.evaluate("() => document.cookie") == ""  # script cannot read it
    # Tampered: refused, back to login.
    ctx.add_cookies([{**cookie, "value": cookie["value"][:-2] + "xx"}])
    assert ctx.request.get("/", max_redirects=0).status == 303
    ctx.close()
    # Behind a TLS proxy (X-Forwarded-Proto from the trusted proxy): Secure too.
    status, headers, _ = _via_proxy(server, "/", {"X-Remote-User": "Anna Ivanova", "X-Forwarded-Proto": "https"})
    cookies = [v for k, v in headers if k.lower() == "set-cookie"]
    assert status == 200 and cookies and all("Secure" in c and "HttpOnly" in c and "SameSite=lax" in c
                                             for c in cookies), cookies


def test_the_users_table_holds_argon2_hashes_only(site):
    office, server = site
    hashes = [h for (h,) in office.sql("SELECT password_hash FROM users")]
    assert len(hashes) == len(ACCOUNTS) and all(h.startswith("$argon2id$") for h in hashes)
    with sqlite3.connect(office.db) as conn:
        dump = "\n".join(conn.iterdump())
    listing = cli("users", "list", "--json", "--db", office.db, cwd=office.root).stdout
    for name in ACCOUNTS:
        for where, text in (("database", dump), ("server log", server.output()), ("users list", listing)):
            assert password(name) not in text, (name, where)


def test_a_role_cannot_be_raised_through_form_fields(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Boris Petrov")
    page.goto("/account")
    token = _csrf(page)
    raised = {"csrf": token, "role": "admin", "extension": "1040", "department": "Sales", "name": "Olga HR",
              "disabled": "0", "current": password("Boris Petrov"), "new": "boris-new-Pa55word"}
    assert ctx.request.post("/account", form=raised).status == 200
    assert office.sql("SELECT role, extension, department FROM users WHERE name = 'Boris Petrov'") == \
        [("agent", "1041", "")]
    olga = _count(office, "SELECT id FROM users WHERE name = 'Olga HR'")
    before = _reviews(office)
    as_hr = {"csrf": token, "decision": "dismiss", "finding": "*", "note": "x", "role": "hr", "user_id": str(olga),
             "reviewer": "Olga HR", "by": "Olga HR"}
    assert ctx.request.post(f"/calls/{office.ids['bad1']}/review", form=as_hr, max_redirects=0).status == 404
    assert ctx.request.post(f"/calls/{office.ids['bad1']}/appeal-decision",
                            form={**as_hr, "outcome": "upheld", "reason": "x"}, max_redirects=0).status == 404
    assert ctx.request.post(f"/calls/{office.ids['good']}/appeal", form=as_hr, max_redirects=0).status == 404
    assert _reviews(office) == before
    # His own appeal, whatever author the form claims, is recorded under his account.
    r = ctx.request.post(f"/calls/{office.ids['bad1']}/appeal", form={**as_hr, "note": "not me"}, max_redirects=0)
    assert r.status == 303
    assert office.sql("SELECT u.name, r.reviewer, r.decision FROM reviews r JOIN users u ON u.id = r.user_id "
                      "ORDER BY r.id DESC LIMIT 1") == [("Boris Petrov", "Boris Petrov", "appealed")]
    ctx.close()


def test_a_transcript_holding_a_script_is_inert(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Olga HR")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"/calls/{office.ids['bad2']}")
    assert page.get_by_text(SCRIPT, exact=False).count() == 1
    assert page.locator("script").evaluate_all("ss => ss.map(s => s.getAttribute('src'))") == ["/static/call.js"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content() or SCRIPT not in page.content()
    assert not dialogs and not page.errors, (dialogs, page.errors)
    ctx.close()


HOSTILE = ["1041' OR '1'='1", "%", "_", "'; DROP TABLE calls; --", "1041\" OR 1=1 --", "\\", "1041 UNION SELECT sha256"]


def test_filter_parameters_with_sql_metacharacters_are_harmless(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Olga HR")
    calls = _count(office, "SELECT count(*) FROM calls")
    for value in HOSTILE:
        for field in ("agent", "rule", "department", "state", "period", "show", "page"):
            r = ctx.request.get("/", params={field: value, "show": "all"} if field != "show" else {field: value})
            assert r.status == 200, (field, value)
            total = int(re.search(r'id="total">(\d+)<', r.text()).group(1))
            if field in ("agent", "rule", "department"):
                assert total == 0, (field, value, total)  # matched literally: nothing has that name
    for ident in ("%25", "_" * 16, "'%20OR%201=1--", "0" * 16):
        assert ctx.request.get(f"/calls/{ident}").status == 404
    assert _count(office, "SELECT count(*) FROM calls") == calls
    ctx.close()


def test_the_view_log_has_a_row_for_each_opening(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Olga HR")
    bad1 = office.ids["bad1"]

    def opened(what: str) -> int:
        return _count(office, "SELECT count(*) FROM view_log WHERE user_name = 'Olga HR' AND what = :w", w=what)

    before = {w: opened(w) for w in ("call", "recording", "clip")}
    for _ in range(3):
        r = ctx.request.get(f"/calls/{bad1}/audio")
        assert r.status == 200 and r.headers["accept-ranges"] == "bytes" and r.body()[:4] == b"RIFF"
    size = len(r.body())
    first = ctx.request.get(f"/calls/{bad1}/audio", headers={"Range": "bytes=0-99"})
    assert first.status == 206 and first.headers["content-range"] == f"bytes 0-99/{size}" and len(first.body()) == 100
    seek = ctx.request.get(f"/calls/{bad1}/audio", headers={"Range": "bytes=1000-"})  # the player seeking on
    assert seek.status == 206 and len(seek.body()) == size - 1000
    assert ctx.request.get(f"/calls/{bad1}/audio", headers={"Range": f"bytes={size + 10}-"}).status == 416
    assert opened("recording") == before["recording"] + 4
    assert ctx.request.get(f"/calls/{bad1}/clips/greeting").status == 200
    assert opened("clip") == before["clip"] + 1
    page.goto(f"/calls/{bad1}")
    assert opened("call") == before["call"] + 1
    # A call she may not see is neither served nor logged (an agent trying another's recording).
    agent, apage = login(browser, server.url, "Anna Ivanova")
    assert agent.request.get(f"/calls/{bad1}/audio").status == 404
    assert _count(office, "SELECT count(*) FROM view_log WHERE user_name = 'Anna Ivanova' AND what = 'recording'") == 0
    agent.close()
    ctx.close()


def _via_proxy(server, path: str, headers: dict, source: str = PROXY):
    host, port = server.url.rsplit("/", 1)[-1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20, source_address=(source, 0))
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    out = r.status, r.getheaders(), r.read().decode("utf-8", "replace")
    conn.close()
    return out


def test_the_proxy_user_header_counts_only_from_the_trusted_proxy(site):
    office, server = site
    status, _, body = _via_proxy(server, "/", {"X-Remote-User": "Olga HR"})
    assert status == 200 and 'id="me">Olga HR<' in body
    status, headers, _ = _via_proxy(server, "/", {"X-Remote-User": "Olga HR"}, source="127.0.0.1")
    assert status == 303 and dict(headers)["location"].startswith("/login")
    status, _, body = _via_proxy(server, "/", {"X-Remote-User": "Mallory"})
    assert status == 403 and "Mallory" in body


def test_logout_ends_the_session_for_good(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Ada Admin")
    kept = [c for c in ctx.cookies() if c["name"] == "callaudit_session"]
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login"))
    again = browser.new_context(base_url=server.url)
    again.add_cookies(kept)  # someone who copied the cookie before the logout
    assert again.request.get("/", max_redirects=0).status == 303
    again.close()
    ctx.close()


def test_after_login_only_a_local_page(site, browser):
    office, server = site
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        ctx = browser.new_context(base_url=server.url)
        r = _login_post(ctx, "Sergey Lead", password("Sergey Lead"), target)
        assert r.status == 303 and r.headers["location"] == "/", (target, r.status)
        ctx.close()


def test_a_disabled_account_is_out_at_once(site, browser):
    office, server = site
    ctx, page = login(browser, server.url, "Anna Ivanova")
    cli("users", "disable", "Anna Ivanova", "--db", office.db, cwd=office.root)
    assert ctx.request.get("/", max_redirects=0).status == 303
    r = _login_post(ctx, "Anna Ivanova", password("Anna Ivanova"))
    assert r.status == 401 and "disabled" in r.text()
    ctx.close()
