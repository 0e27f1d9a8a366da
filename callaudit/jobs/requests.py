"""After a batch (and after a listen-in is stored): read the requests of every call scored since, then
recompute the statuses that may have changed — so the batch after a night's recordings updates
yesterday's requests.

Both steps are idempotent. A call is read again only when its current scoring or what its reading
depends on (the requests pack, [requests] settings, this code's version) changed; a rescore therefore
replaces its requests. Statuses are recomputed for the customers of the calls just read and for every
customer with a request still open or overdue (time has passed); a status's `changed_at` moves only when
it changes. Nothing here fails a batch: a call that cannot be read is reported and the others go on.
"""

from __future__ import annotations

import hashlib
import sys
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from callaudit.analysis import fulfilment
from callaudit.analysis.kinds import KINDS
from callaudit.analysis.kinds.request_fulfilment import charge
from callaudit.analysis.requests import EXTRACTION_VERSION, Recogniser, call_facts, extract
from callaudit.config import Config
from callaudit.errors import CallauditError
from callaudit.jobs.request_settings import pack_path, working_hours
from callaudit.store import requests as rq_store
from callaudit.store.db import Store
from callaudit.store.schema import CallRow, utcnow


@dataclass
class RefreshReport:
    read: int = 0                  # calls whose requests were (re)extracted
    requests: int = 0              # requests found in them
    changed: Counter = field(default_factory=Counter)  # status -> how many statuses changed to it
    statuses: Counter = field(default_factory=Counter)  # status -> how many requests have it now
    failed: list[tuple[str, str]] = field(default_factory=list)  # (call, why)
    skipped: str | None = None     # why nothing was done
    as_of: datetime | None = None

    def line(self) -> str:
        """One line for the batch's summary."""
        if self.skipped:
            return f"requests: not followed ({self.skipped})"
        now = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "none"
        moved = ", ".join(f"{n} now {s}" for s, n in sorted(self.changed.items()))
        out = f"requests: {self.read} call(s) read, {self.requests} request(s) found; statuses {now}"
        out += f" (changed: {moved})" if moved else ""
        if self.as_of:
            out += f"; as of {self.as_of:%Y-%m-%d %H:%M %Z}"
        if self.failed:
            out += f"; {len(self.failed)} call(s) could not be read: " + "; ".join(f"{c}: {w}" for c, w in self.failed[:3])
        return out

    def to_json(self) -> dict:
        return {"read": self.read, "requests": self.requests, "changed": dict(self.changed),
                "statuses": dict(self.statuses), "failed": [{"call": c, "reason": w} for c, w in self.failed],
                "skipped": self.skipped, "as_of": self.as_of.isoformat() if self.as_of else None}


def settings_digest(cfg: Config, language: str) -> str:
    """What reading a call's requests depends on, besides its words: the pack, the embedder, the settings."""
    r = cfg.requests
    path = pack_path(cfg)(language)
    try:
        pack = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        pack = "missing"
    key = [EXTRACTION_VERSION, pack, r.embedder, r.timezone, r.workday_start, r.workday_end, r.lunch_start,
           r.lunch_end, r.workdays, sorted(r.holidays), r.default_due_hours, r.region, sorted(r.own_numbers),
           sorted(r.problem_topics), cfg.batch.extension_pattern]
    return hashlib.sha256(repr(key).encode()).hexdigest()


def _recogniser(cfg: Config) -> Recogniser:
    from callaudit.text import embeddings

    return Recogniser(embeddings.load_any(cfg.requests.embedder, threads=1), pack_path(cfg))


def refresh(store: Store, cfg: Config, *, recogniser: Recogniser | None = None, now: datetime | None = None,
            say: Callable[[str], None] | None = None) -> RefreshReport:
    """Read the requests of calls not yet read (or rescored), then recompute statuses; see the module."""
    rep = RefreshReport()
    if not cfg.requests.enabled:
        rep.skipped = "[requests] enabled = false"
        return rep
    hours = working_hours(cfg)
    digests: dict[str, str] = {}
    with store.session() as s:
        todo = []
        for call, score, cc in rq_store.scored_calls(s):
            lang = score.language or call.language or cfg.transcription.language
            digest = digests.setdefault(lang, settings_digest(cfg, lang))
            if cc is None or cc.score_id != score.id or cc.digest != digest:
                todo.append((call.id, lang, digest))
    touched: set[str | None] = set()
    unknown: set[int] = set()
    if todo:
        try:  # no embedder, or a broken pack: nothing can be read this time, and every call would say so
            recogniser = recogniser or _recogniser(cfg)
            for lang in sorted({lang for _, lang, _ in todo}):
                recogniser.for_language(lang)
        except CallauditError as e:
            rep.skipped = str(e)
            return rep
    for call_id, lang, digest in todo:
        try:
            with store.session() as s:
                call = s.get(CallRow, call_id)
                score = call.current_score
                facts = call_facts(call.sha256, call.started_at, call.meta or {}, call.extension, lang,
                                   call.file_mtime, cfg.requests.region, cfg.batch.extension_pattern,
                                   cfg.requests.own_numbers, listen_in=(call.meta or {}).get("source") == "listen-in")
                pack, intents = recogniser.for_language(lang)
                found = extract(facts, rq_store.turns_of(score), pack, intents, hours=hours,
                                default_due_hours=cfg.requests.default_due_hours,
                                problem_topics=cfg.requests.problem_topics)
                rq_store.replace_call(s, call, score, digest, found)
            rep.read += 1
            rep.requests += len(found.requests)
            touched.add(facts.customer.key)
            if facts.customer.key is None:
                unknown.add(call_id)
        except CallauditError as e:
            rep.failed.append((str(call_id), str(e)))
        except Exception as e:  # a bug on one call must not stop the others or the batch
            traceback.print_exc(file=sys.stderr)
            rep.failed.append((str(call_id), f"internal error: {e.__class__.__name__}: {e}"))
        if say and rep.read and rep.read % 50 == 0:
            say(f"requests: {rep.read} of {len(todo)} calls read")
    recompute(store, cfg, touched, unknown, rep, now=now)
    return rep


class _Rules:
    """The request-fulfilment rule of the pack that judged each call (its file, else its language's default)."""

    def __init__(self):
        from callaudit.analysis.rulepack import PackChooser

        self._by_file: dict[str, object] = {}
        self._chooser = PackChooser()

    def of(self, call: CallRow):
        from callaudit.analysis import rulepack

        score = call.current_score
        key = score.rules_file if score else ""
        if key not in self._by_file:
            try:
                pack = rulepack.load(key) if key else self._chooser.for_language(score.language if score else "ru")
            except CallauditError:
                pack = self._chooser.for_language(score.language if score else "ru")
            self._by_file[key] = next((r for r in pack.rules if KINDS[r.kind].cross_call), None)
        return self._by_file[key]


def recompute(store: Store, cfg: Config, touched: set[str | None], unknown: set[int], rep: RefreshReport,
              now: datetime | None = None) -> None:
    """Recompute the statuses that may have changed (see the module), and count them all."""
    now = now or utcnow()
    grace = timedelta(minutes=cfg.requests.grace_minutes)
    tz = ZoneInfo(working_hours(cfg).timezone)
    rules = _Rules()
    with store.session() as s:
        latest = rq_store.horizon(s)
        as_of = min(latest, now) if latest else now
        customers = rq_store.customers_to_recompute(s, touched)
        outbound = rq_store.outbound_times(s)
        unknown |= set(rq_store.unknown_customer_calls(s)) if None in customers else set()
    rep.as_of = working_hours(cfg).local(as_of)
    groups = [(key, None) for key in sorted(k for k in customers if k)] + [(None, c) for c in sorted(unknown)]
    for key, call_id in groups:
        with store.session() as s:
            items, contacts, closures = rq_store.customer_records(s, key, call_id)
            for row, item in items:
                st = fulfilment.status(item, contacts, as_of, grace, closures.get(row.public_id), tz, outbound)
                rule = rules.of(s.get(CallRow, row.call_id))
                finding = charge(rule, item, st, tz) if rule is not None else None
                if finding:
                    finding["rules_version"] = s.get(CallRow, row.call_id).current_score.rules_version
                charged = item.agent if finding and finding["passed"] is False else None
                if rq_store.save_status(s, row.public_id, st, charged, finding, now):
                    rep.changed[st.status] += 1
    with store.session() as s:
        rq_store.drop_orphan_statuses(s)
        rq_store.move_horizon(s, as_of)
        rep.statuses = Counter(dict(rq_store.status_counts(s)))


def refresh_quietly(store: Store, cfg: Config, say: Callable[[str], None]) -> RefreshReport:
    """`refresh` for the end of a batch or a listen-in: whatever goes wrong is one line, never a failed batch."""
    try:
        return refresh(store, cfg, say=say)
    except CallauditError as e:
        return RefreshReport(skipped=str(e))
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return RefreshReport(skipped=f"internal error: {e.__class__.__name__}: {e}")
