"""The rules understand what was meant: two-channel calls worded as people talk, spoken by the TTS
voices (sources/voices.py), transcribed by the real base model and scored by the default packs.

Per language, two calls:
- handled: a greeting in other words naming the company, a complaint in plain words (a formal
  complaint, cancelling the contract) answered with an apology and a concrete next step in other
  words, a hold announced in other words followed by 25 s of quiet, «я перезвоню позже» / "I'll
  call you back later" (a commitment, not a brush-off), a closing in other words;
- unhandled: the same complaint answered with no apology, a brush-off in other words, and
  «спасибо за ожидание» / "thank you for your patience" as the agent's last words (no closing).
"""

from __future__ import annotations

import pytest

from callaudit import config
from callaudit.analysis.contract import result_json
from callaudit.analysis.pipeline import Scorer
from callaudit.sources.voices import Utterance, build_call

pytestmark = pytest.mark.slow

COMPANY = {"ru": "Ромашка", "en": "Acme"}

HANDLED = {
    "ru": [
        Utterance("agent", "Доброе утро, вы позвонили в Ромашку, меня зовут Сергей.", at=0.5),
        Utterance("customer", "Мне уже третий раз приходит неправильный счёт. Я напишу официальную жалобу "
                              "и расторгну договор."),
        Utterance("agent", "Простите, пожалуйста, так не должно быть. Я прямо сейчас исправлю счёт и сегодня "
                           "пришлю вам новый на почту.", gap=0.9),
        Utterance("customer", "Хорошо. А можно узнать, в чём была ошибка?"),
        Utterance("agent", "Сейчас поищу в системе, не отключайтесь, пожалуйста.", gap=0.9),
        Utterance("agent", "Спасибо, что дождались. Показания счётчика внесли дважды, теперь всё исправлено.",
                  gap=25.0),
        Utterance("customer", "Понятно."),
        Utterance("agent", "Если нужны подробности, я перезвоню вам позже, когда закончится проверка.", gap=0.9),
        Utterance("customer", "Договорились."),
        Utterance("agent", "Спасибо, что обратились в Ромашку, хорошего вам дня.", gap=0.8),
    ],
    "en": [
        Utterance("agent", "Good morning, you've reached Acme, Casey speaking.", at=0.5),
        Utterance("customer", "This is the third bill this year with the wrong amount. I'm going to file a formal "
                              "complaint and cancel my contract."),
        Utterance("agent", "I'm so sorry about that, it really shouldn't happen. I'll correct the bill right now "
                           "and email you the new one today.", gap=0.9),
        Utterance("customer", "Fine. And can someone explain what went wrong?"),
        Utterance("agent", "Let me look that up for you, bear with me.", gap=0.9),
        Utterance("agent", "Thanks for waiting. A meter reading was entered twice, and that's fixed now.", gap=25.0),
        Utterance("customer", "Okay."),
        Utterance("agent", "If you want more detail, I'll call you back later, once the audit is done.", gap=0.9),
        Utterance("customer", "Sure."),
        Utterance("agent", "Thanks for calling Acme, have a great rest of your day.", gap=0.8),
    ],
}

UNHANDLED = {
    "ru": [
        Utterance("agent", "Ромашка, Сергей, слушаю.", at=0.5),
        Utterance("customer", "Мне уже третий раз приходит неправильный счёт. Я напишу официальную жалобу "
                              "и расторгну договор."),
        Utterance("agent", "Так. Номер лицевого счёта какой?", gap=0.9),
        Utterance("customer", "Он есть в письме, которое вы мне прислали."),
        Utterance("agent", "Ошибками в счетах мы тут не занимаемся, пишите сами в головной офис.", gap=0.9),
        Utterance("customer", "А вы можете хотя бы проверить?"),
        Utterance("agent", "Минуту.", gap=0.9),
        Utterance("agent", "Спасибо за ожидание.", gap=10.0),
    ],
    "en": [
        Utterance("agent", "Acme, Casey speaking.", at=0.5),
        Utterance("customer", "This is the third bill this year with the wrong amount. I'm going to file a formal "
                              "complaint and cancel my contract."),
        Utterance("agent", "Okay. What's the account number?", gap=0.9),
        Utterance("customer", "It's on the letter you sent me."),
        Utterance("agent", "Billing mistakes aren't handled on this line, you'll have to write to head office "
                           "yourself.", gap=0.9),
        Utterance("customer", "Can you at least check it?"),
        Utterance("agent", "Hold on.", gap=0.9),
        Utterance("agent", "Thank you for your patience.", gap=10.0),
    ],
}


@pytest.fixture(scope="module")
def scorers(transcriber):
    return {lang: Scorer(config.defaults().with_overrides(transcription__language=lang, company__name=COMPANY[lang]),
                         transcriber=transcriber) for lang in ("ru", "en")}


def scored(scorers, tmp_path, lang: str, lines: list[Utterance]) -> dict:
    path = tmp_path / f"{lang}.wav"
    build_call(path, lines, lang)
    result = result_json(scorers[lang].score_file(path))
    return {f["rule"]: f for f in result["findings"]} | {"_transcript": result["transcript"],
                                                         "_version": result["rules_version"]}


def status(got: dict, rule: str) -> str:
    return got[rule]["status"]


@pytest.mark.parametrize("lang", ["ru", pytest.param("en", marks=pytest.mark.xfail(strict=True, reason=(
    "measured 2026-12-01: Whisper base writes 'Acme' as 'at me'; the greeting is then not evaluated "
    "(the company name may have been misheard), never failed")))])
def test_meant_in_other_words_passes(scorers, tmp_path, lang):
    got = scored(scorers, tmp_path, lang, HANDLED[lang])
    said = got["_transcript"]
    # A greeting in other words, with the company's name.
    assert status(got, "greeting") == "passed", (got["greeting"], said)
    # A complaint in plain words calls for conflict handling; an apology and a next step in other words pass it.
    assert status(got, "conflict-handling") == "passed", (got["conflict-handling"], said)
    assert "occasion" in got["conflict-handling"]["detail"]
    complaint = [e for e in got["conflict-handling"]["evidence"] if e.get("intent") == "complaint"]
    assert complaint and complaint[0]["speaker"] == "customer" and complaint[0]["score"] >= complaint[0]["threshold"]
    # A hold announced in other words: the 25 s of quiet are a hold, not dead air.
    assert status(got, "dead-air") == "passed", (got["dead-air"], said)
    assert "announced hold" in got["dead-air"]["detail"]
    # «я перезвоню позже» / "I'll call you back later" is a commitment, not a brush-off.
    assert status(got, "forbidden-phrases") == "passed", (got["forbidden-phrases"], said)
    assert status(got, "closing") == "passed", (got["closing"], said)
    assert got["_version"].endswith("/e5+use")


@pytest.mark.xfail(strict=True, reason=(
    "measured 2026-12-01 late: the plain-words complaint is now a sure complaint (ru +0.95, en +0.76, "
    "threshold +0.39), but conflict handling is still not evaluated rather than failed: ru, the brush-off "
    "«Ошибками в счетах мы тут не занимаемся» may be an apology and scores brush_off +0.04 (threshold "
    "+0.21); en, «bill» in the complaint was heard at confidence 0.24"))
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_unhandled_complaint_brush_off_and_no_closing_fail(scorers, tmp_path, lang):
    got = scored(scorers, tmp_path, lang, UNHANDLED[lang])
    said = got["_transcript"]
    # The same complaint with no apology fails conflict handling.
    assert status(got, "conflict-handling") == "failed", (got["conflict-handling"], said)
    # A brush-off in other words fails forbidden phrases, and the evidence names the sentence.
    assert status(got, "forbidden-phrases") == "failed", (got["forbidden-phrases"], said)
    ev = got["forbidden-phrases"]["evidence"][0]
    assert ev["intent"] in ("brush_off", "rudeness") and ev["example"] and ev["score"] >= ev["threshold"]
    assert ev["start"] < ev["end"] and ev["speaker"] == "agent"
    # «Спасибо за ожидание» / "Thank you for your patience" is not a closing.
    assert status(got, "closing") != "passed", (got["closing"], said)
