"""What the layers below are told about the pack that will judge a call: the cues the transcriber
recognises the agent's voice by, and the rules the live view alerts on during a listen-in. Both come
from the pack the scorer chose, so a custom pack's greeting is also what decides who the agent is."""

from __future__ import annotations

import dataclasses

from callaudit.analysis.kinds import KINDS
from callaudit.analysis.meaning import PackMeaning, meaning_for
from callaudit.analysis.rulepack import RulePack
from callaudit.text.matching import Phrases, compile_phrases
from callaudit.transcript.live import LiveRules
from callaudit.transcript.roles import RoleCues


def role_cues(pack: RulePack, company: str = "", meaning: PackMeaning | None = None) -> RoleCues:
    """The pack's greetings (what its rules require of the agent's first words: phrases, or an
    intent with its phrases and its meaning), its hold phrases and hold intent, and the company name.
    `meaning`: the pack's intents as the scorer loaded them (default: meaning_for(pack))."""
    first_words = [r for r in pack.rules if r.kind in ("phrase-required", "intent-required")
                   and r.params.get("speaker") == "agent" and r.params.get("position") == "start"]
    intents = tuple(r.params["intent"] for r in first_words if r.kind == "intent-required")
    greetings = [p for r in first_words if r.kind == "phrase-required" for p in r.params["phrases"]]
    greetings += [p for name in intents for p in pack.meaning.get(name).phrases]
    company = company.strip()
    pm = (meaning or meaning_for(pack)) if intents or pack.hold_intent else None
    usable = pm is not None and pm.iset is not None
    # The customer's complaint, when the pack describes one: whom it is made to is the agent.
    spec = pack.meaning.get("complaint")
    complaints = ("complaint",) if spec is not None and spec.speaker == "customer" else ()
    return RoleCues(pack.language, compile_phrases(greetings, pack.language),
                    compile_phrases([company], pack.language) if company else Phrases(()),
                    pack.hold_phrases, pack.fuzzy, pm.says if usable else None,
                    intents if usable else (), pack.hold_intent if usable else "",
                    complaints if usable else ())


def live_rules(pack: RulePack) -> LiveRules:
    """What each of the pack's rules, by its kind, asks the live view to watch for."""
    hints: dict = {}
    for rule in pack.rules:
        for key, value in KINDS[rule.kind].live(rule).items():
            if key == "forbidden":
                hints.setdefault("forbidden", []).append(value)
            else:
                hints.setdefault(key, value)  # the first rule of a kind sets the limit, as the pack orders them
    fields = {f.name for f in dataclasses.fields(LiveRules)}
    hints = {k: (tuple(v) if k == "forbidden" else v) for k, v in hints.items() if k in fields}
    return LiveRules(language=pack.language, **hints)
