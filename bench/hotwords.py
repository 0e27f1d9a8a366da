"""Does biasing Whisper towards the company's and the agent's names make it hear them, and does it invent them?

    .venv/bin/python bench/hotwords.py [--lang ru,en] [--beam N] [--dense on|off] [--modes off,names,phrases]

Builds short two-channel calls spoken by the offline TTS voices of `callaudit.sources.voices`
(festival's Russian voice; piper's and flite's English ones) through a telephone line. Half the
greetings name the company and the agent, half do not (the company and the agent are configured
either way); the customer never names either. Each call is scored once per hotword mode
(`[transcription] hotwords`):

  off      no hotwords (what callaudit did before)
  names    the company name and the agent's name (from [company] name and the roster)
  phrases  names plus the pack's greeting and closing phrases

and the script prints, per mode, the hit rate (the company / the agent's name is found, by the greeting
rule's own fuzzy phrase match, in the agent's first two turns where it was said), the false-hit rate
(found where it was not said: on the agent's channel, and on the customer's), the greeting verdicts
and the WER of the calls' other words (a bias must not cost the rest of the call its words).
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jiwer

from callaudit.analysis import rulepack
from callaudit.analysis.hotwords import hotwords_for
from callaudit.sources.voices import Utterance, build_call
from callaudit.text.matching import compile_phrases, find, normalise, stems

COMPANIES = {"ru": ["Рога и Копыта", "Ромашка", "Стройгарант", "ТехноСфера", "Северный ветер", "Вектор Плюс",
                    "Альфа Связь", "Горизонт"],
             "en": ["Acme Widgets", "Zenith Telecom", "Bluebird Insurance", "Northwind Traders", "Globex",
                    "Initech", "Hooli Broadband", "Vandelay Industries"]}
AGENTS = {"ru": ["Ольга", "Дмитрий", "Светлана", "Игорь", "Наталья", "Аркадий", "Зинаида", "Тимофей"],
          "en": ["Olivia", "Dmitri", "Siobhan", "Gareth", "Natalie", "Ignatius", "Priya", "Declan"]}
SAID = {"ru": ["Компания {c}, добрый день, меня зовут {n}, слушаю вас.",
               "{c}, здравствуйте, оператор {n}, чем могу помочь?"],
        "en": ["Thank you for calling {c}, my name is {n}, how can I help you?",
               "{c}, good morning, this is {n} speaking."]}
UNSAID = {"ru": ["Добрый день, слушаю вас, чем могу помочь?", "Здравствуйте, оператор слушает."],
          "en": ["Good morning, how can I help you today?", "Hello, you are through to customer service."]}
REST = {"ru": [("customer", "Здравствуйте, у меня второй день не работает интернет."),
               ("agent", "Сейчас проверю вашу линию, оставайтесь, пожалуйста, на линии."),
               ("customer", "Хорошо, спасибо, жду."),
               ("agent", "Мастер приедет завтра до обеда. Всего доброго, до свидания.")],
        "en": [("customer", "Hi, my internet has been down since yesterday."),
               ("agent", "Let me check your line, please stay on the line."),
               ("customer", "Okay, thanks, I will wait."),
               ("agent", "A technician will come tomorrow morning. Have a nice day, goodbye.")]}
AGENT_VOICES = {"ru": ["ru-nsh"], "en": ["en-joe", "en-rms"]}


def calls(lang: str, folder: Path) -> list[tuple[str, str, bool, Path, list]]:
    """(company, agent, said?, file, placed lines) for every company: said and not said, by each agent voice."""
    out = []
    for i, (company, agent) in enumerate(zip(COMPANIES[lang], AGENTS[lang])):
        voice = AGENT_VOICES[lang][i % len(AGENT_VOICES[lang])]
        for said in (True, False):
            for j, template in enumerate((SAID if said else UNSAID)[lang]):
                lines = [Utterance("agent", template.format(c=company, n=agent), voice=voice, at=0.8)]
                lines += [Utterance(who, text, voice=voice if who == "agent" else None) for who, text in REST[lang]]
                path = folder / f"{lang}-{i}-{j}-{'said' if said else 'unsaid'}.wav"
                out.append((company, agent, said, path, build_call(path, lines, lang, seed=i)))
    return out


def heard(phrase: str, texts: list[str], lang: str, fuzzy: float) -> bool:
    """Whether `phrase` is found in any of `texts` the way the greeting rule finds the company name."""
    ph = compile_phrases([phrase], lang)
    return any(find(ph, stems(t, lang, ph.stemmed), fuzzy) for t in texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", default="ru,en")
    ap.add_argument("--beam", type=int, help="[model] beam_size (default: as configured)")
    ap.add_argument("--dense", choices=("on", "off"), default="on")
    ap.add_argument("--modes", default="off,names,phrases")
    args = ap.parse_args()

    from callaudit import config
    from callaudit.audio.decode import load
    from callaudit.transcript.transcribe import Transcriber

    cfg = config.defaults().with_overrides(model__beam_size=args.beam, model__dense=args.dense == "on")
    transcriber = Transcriber(cfg)
    print(f"bench/hotwords.py: model base beam {cfg.model.beam_size}, dense {args.dense}")
    with tempfile.TemporaryDirectory(prefix="callaudit-hotwords-") as tmp:
        for lang in args.lang.split(","):
            pack = rulepack.load(rulepack.default_pack_path(lang))
            cases = calls(lang, Path(tmp))
            for mode in args.modes.split(","):
                c = dict.fromkeys(("said", "unsaid", "co_hit", "co_false", "name_hit", "name_false", "cust_false"), 0)
                cpu, misses, refs, hyps = time.process_time(), [], [], []
                for company, agent, said, path, placed in cases:
                    tx = transcriber.transcribe(load(path), lang, hotwords=hotwords_for(mode, pack, company, agent))
                    first = [t.text for t in tx.by("agent")][:2]
                    co, nm = heard(company, first, lang, pack.fuzzy), heard(agent, first, lang, pack.fuzzy)
                    c["said" if said else "unsaid"] += 1
                    c["co_hit" if said else "co_false"] += co
                    c["name_hit" if said else "name_false"] += nm
                    c["cust_false"] += heard(company, [t.text for t in tx.by("customer")], lang, pack.fuzzy)
                    if said != co:
                        misses.append(f"{'said' if said else 'not said'} «{company}»: {first[:1]}")
                    refs.append(normalise(" ".join(p.text for p in placed[1:])))  # all but the greeting
                    hyps.append(normalise(" ".join(t.text for t in tx.turns if t.start > placed[0].end + 0.3)))
                rest = jiwer.wer(refs, hyps)
                print(f"{lang} {mode:8} company hit {c['co_hit']}/{c['said']}, false {c['co_false']}/{c['unsaid']}; "
                      f"agent's name hit {c['name_hit']}/{c['said']}, false {c['name_false']}/{c['unsaid']}; company on "
                      f"the customer's channel {c['cust_false']}/{len(cases)}; WER of the rest {rest:.1%}; "
                      f"{time.process_time() - cpu:.0f} CPU s", flush=True)
                for m in misses[:4]:
                    print("    ", m)


if __name__ == "__main__":
    main()
