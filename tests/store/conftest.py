"""Fixtures of the store suite: a fresh database per test on each backend (the PostgreSQL server is
tests/conftest.py's pg_server), generated short calls, and a config that uses the small tiny.en model."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from storehelp import make_calls, write_config

from callaudit import config


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "calls.db")
        return
    server = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.admin(f"CREATE DATABASE {name}")
    yield server.url(name)
    server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server, request) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.admin(f"CREATE DATABASE {name}")
    yield pg_server.url(name)
    pg_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    return write_config(tmp_path)


@pytest.fixture(scope="session")
def scored_call(tmp_path_factory):
    """One short call scored by the real Scorer (tiny.en): (the ScoredCall, its verdict JSON, the file)."""
    from callaudit.analysis.contract import result_json
    from callaudit.analysis.pipeline import Scorer

    folder = tmp_path_factory.mktemp("scored")
    path = make_calls(folder, 1)[0]
    cfg = config.load(write_config(folder))
    scored = Scorer(cfg).score_file(path, "en", "1040")
    return scored, result_json(scored), path
