"""Masking dictated numbers: numerals and number words, Russian and English; amounts stay readable."""

import re

import pytest

from callaudit.reports.redact import Redactor

R = Redactor()


@pytest.mark.parametrize("text, label", [
    ("Мой номер восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь, запишите.", "[phone number]"),
    ("Мой номер +7 (916) 123-45-67", "[phone number]"),
    ("Call me at +1 (555) 123-4567 please", "[phone number]"),
    ("my number is five five five oh one two three four", "[phone number]"),
    ("Карта 4111 1111 1111 1111, срок 12/27", "[card number]"),
    ("my card is four one one one one one one one one one one one one one one one thanks", "[card number]"),
    ("паспорт серия сорок пять двенадцать номер триста сорок пять шестьсот семьдесят восемь", "[passport number]"),
    ("паспорт 4512 345678", "[passport number]"),
    ("passport number 123456789", "[passport number]"),
])
def test_numbers_are_masked(text, label):
    out = R.text(text)
    assert label in out
    assert not re.search(r"\d{4}", out.replace("12/27", "")), out
    assert "шестьдесят" not in out and "four one one" not in out


@pytest.mark.parametrize("text", [
    "Это стоит 1 500 000 рублей", "заказ номер 12345", "перезвоню в 18:00, через пять минут",
    "The estimated hold time is currently 5 minutes", "It costs two hundred fifty dollars",
])
def test_amounts_times_and_short_numbers_stay(text):
    assert R.text(text) == text


def test_disabled_and_configured_kinds():
    assert Redactor(enabled=False).text("4111 1111 1111 1111") == "4111 1111 1111 1111"
    assert Redactor(kinds=("card",)).text("call 555 123 4567") == "call 555 123 4567"
    extra = Redactor(patterns=(re.compile(r"\bINV-\d+\b"),))
    assert extra.text("invoice INV-2231 paid") == "invoice [redacted] paid"


def test_word_spans_give_the_times_to_silence_in_audio():
    words = [(0.0, 0.4, "номер"), (0.5, 0.7, "8"), (0.8, 1.2, "916"), (1.3, 2.0, "123-45-67."), (2.1, 2.5, "спасибо")]
    assert R.word_spans(words) == [(0.5, 2.0)]


def test_bad_redaction_config_is_one_line(tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text('[redaction]\npatterns = ["(open"]\n')
    out = subprocess.run([sys.executable, "-m", "callaudit.cli", "--config", str(cfg), "report", "--format", "json"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [
        f"callaudit: error: {cfg}: [redaction] patterns: bad regular expression '(open': "
        "missing ), unterminated subpattern at position 0"]
