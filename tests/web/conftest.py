"""Fixtures of the workspace suite: a store filled by the real `callaudit batch` from recorded speech
(tiny.en), accounts made by the real `callaudit users add`, and Debian's Chromium driven by Playwright (one
browser per module). The helpers live in webhelp.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from webhelp import CALLS, CHROMIUM_ARGS, Office, fill

from callaudit.sources.samples import build


@pytest.fixture(scope="session")
def recordings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("monitor")
    for i, (name, (lines, ext)) in enumerate(CALLS.items()):
        path = folder / f"{name}-20261112-0930{i:02d}-{ext}-79001234567-1762939800.{i}.wav"
        build(path, lines, "en", seed=10 + i)
        Path(str(path) + ".json").write_text(json.dumps({"language": "en"}))
    return folder


@pytest.fixture(scope="session")
def sqlite_master(tmp_path_factory, recordings) -> Office:
    root = tmp_path_factory.mktemp("office-sqlite")
    return fill(root, str(root / "calls.db"), recordings, "sqlite")


@pytest.fixture(scope="session")
def pg_office(tmp_path_factory, recordings, pg_server) -> Office:
    name = f"w_{uuid.uuid4().hex[:12]}"
    pg_server.admin(f"CREATE DATABASE {name}")
    root = tmp_path_factory.mktemp("office-pg")
    yield fill(root, pg_server.url(name), recordings, "postgresql")
    pg_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()
