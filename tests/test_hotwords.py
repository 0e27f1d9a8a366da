"""The company's name, configured in [company] name, is heard in a Russian greeting where it was said
(unaided, Whisper base wrote «Рога и Копыта» as «Урага и Капыта»), and never written into a call
where it was not said: the bias must not make the greeting rule pass for an agent who skipped it."""

from __future__ import annotations

import pytest

from callaudit import config
from callaudit.analysis.pipeline import Scorer
from callaudit.sources.voices import Utterance, build_call
from callaudit.text.matching import compile_phrases, find, stems
from callaudit.transcript.transcribe import Transcriber

pytestmark = pytest.mark.slow

COMPANIES = ["Рога и Копыта", "Стройгарант"]
REST = [Utterance("customer", "Здравствуйте, у меня второй день не работает интернет."),
        Utterance("agent", "Сейчас проверю вашу линию, оставайтесь, пожалуйста, на линии.", gap=0.9),
        Utterance("customer", "Хорошо, спасибо, жду.", gap=6.0),
        Utterance("agent", "Мастер приедет завтра до обеда. Всего доброго, до свидания.", gap=0.9)]


@pytest.fixture(scope="module")
def scorers():
    # Dense windows: with a window per stretch Whisper base hears «Компания Стройгарант» as «Компанесторы,
    # гарант» whatever it is told to expect (measured 2026-12-01); in a shared window it hears it.
    cfg = config.defaults().with_overrides(transcription__language="ru", transcription__hotwords="names",
                                           model__dense=True)
    dense = Transcriber(cfg)
    return {c: Scorer(cfg.with_overrides(company__name=c), transcriber=dense) for c in COMPANIES}


def said(company: str, texts: list[str]) -> bool:
    """Found the way the greeting rule finds the company's name (stems, the pack's fuzzy threshold)."""
    phrases = compile_phrases([company], "ru")
    return any(find(phrases, stems(t, "ru", phrases.stemmed), 85) for t in texts)


def greeting(scored):
    return next(f for f in scored.verdict.findings if f.rule == "greeting")


@pytest.mark.parametrize("company", COMPANIES)
def test_the_company_named_in_the_greeting_is_heard(scorers, tmp_path, company):
    path = tmp_path / "said.wav"
    build_call(path, [Utterance("agent", f"Компания {company}, добрый день, меня зовут Ольга, слушаю вас.", at=0.8),
                      *REST], "ru")
    result = scorers[company].score_file(path)
    agent = [t.text for t in result.transcript.by("agent")]
    assert said(company, agent[:2]), agent
    assert greeting(result).status == "passed", greeting(result)


@pytest.mark.parametrize("company", COMPANIES)
def test_the_company_is_not_written_into_a_call_where_it_was_not_said(scorers, tmp_path, company):
    path = tmp_path / "unsaid.wav"
    build_call(path, [Utterance("agent", "Добрый день, меня зовут Ольга, слушаю вас.", at=0.8), *REST], "ru")
    result = scorers[company].score_file(path)
    texts = [t.text for t in result.transcript.turns]
    assert not said(company, texts), texts
    assert greeting(result).status != "passed", greeting(result)  # failed, or not evaluated if unclear
    assert "проверю вашу линию" in " ".join(texts).lower()  # the rest of the call is still heard
