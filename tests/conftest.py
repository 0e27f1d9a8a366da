"""Shared fixtures: the real base model, loaded once per test session, and generated calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from callaudit import config
from callaudit.transcribe import Transcriber

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"  # screenshots and other artefacts a person may want to look at


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    return Transcriber(config.defaults())


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
