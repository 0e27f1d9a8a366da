"""What Whisper is told to expect in a call (`[transcription] hotwords`): the rare words a verdict rests on.

Whisper base writes a company's name wrong unaided («Рога и Копыта» came out «Урага и Капыта»), and
the greeting rule rests on that name. faster-whisper's `hotwords` puts text before the audio in the
decoder's prompt. Whisper reads it as the transcript *before* the audio: a bare "Рога и Копыта" made it
skip the name where a greeting began with it (bench/hotwords.py: 4 of 16 greetings lost it). Given as a
list of names, then neutral words, the names are expected, not taken as already said.

Measured 2026-12-01 (bench/hotwords.py --lang ru --dense on, base beam 5; 8 companies x 2 agent names, 16
greetings that name them and 16 that do not): company heard 16/16 with "names" vs 9/16 "off", written
where not said 0/16 (and 0/32 on the customer's channel); the agent's name 15/16 vs 13/16, false 0/16;
the rest of the calls' words: WER 10.8 % vs 11.2 %.
"""

from __future__ import annotations

from callaudit.analysis.rulepack import RulePack

# A list of names before the call's own words, then neutral ones: a sentence *about* the call («Звонок в
# компанию X, разговор с клиентом») still made Whisper skip «Компания X» at a greeting's start (2 of 4),
# a list did not (4 of 4 heard, 0 of 4 invented; dense and not).
CONTEXT = {"ru": "Названия: {names}. Разговор с клиентом.", "en": "Names: {names}. A call with a customer."}


def hotwords_for(mode: str, pack: RulePack, company: str, agent_name: str | None = None) -> dict[str, str]:
    """Role -> what Whisper is told to expect, the same for every party ("*": every voice of a mono call).

    "names": the company's and the agent's names. "phrases": also the pack's greeting and closing
    phrases. Never the phrases whose presence fails an agent (forbidden phrases, a customer's complaint):
    a bias that made Whisper hear one of those would be a false fail. One string for both parties keeps
    their speech in shared dense windows; customers say the company's name too."""
    company, agent = company.strip(), (agent_name or "").strip()
    if mode == "off" or not (company or agent or mode == "phrases"):
        return {}
    names = ", ".join(n for n in (company, agent) if n)
    text = CONTEXT.get(pack.language, CONTEXT["en"]).format(names=names) if names else ""
    if mode == "phrases":
        phrases = [p for r in pack.rules if r.kind == "phrase-required" for p in r.params["phrases"]]
        text += " " + ", ".join(dict.fromkeys(phrases)) + "."  # names first: a long prompt is cut at its end
    return {"agent": text.strip(), "customer": text.strip(), "*": text.strip()}
