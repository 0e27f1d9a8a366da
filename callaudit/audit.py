"""After a listen-in: score each recording with the full pipeline, store it as a spot check, and write
the session's audit row (who listened to whom, when, in which mode, with what result).

The audit goes to the store's `listen_sessions` table; `[listen] audit_log` additionally appends each
session as one JSON line (and is the only record where the store cannot be loaded). The SIP password
never reaches either: sessions do not carry it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from . import audio
from .config import Config
from .contract import call_json
from .errors import CallauditError
from .listen import COMPLETED, ListenSession
from .pipeline import Scorer, result_json


def score_sessions(cfg: Config, sessions: list[ListenSession], language: str | None = None,
                   scorer: Scorer | None = None, say: Callable[[str], None] = print) -> dict[int, Any]:
    """Score every completed recording in place (`session.verdict`); returns transcripts by id(session).
    A ChanSpy listen-in is mono: the transcript says "unknown" speaker and role rules are not evaluated."""
    transcripts: dict[int, Any] = {}
    todo = [s for s in sessions if s.result == COMPLETED and s.recording]
    if not todo:
        return transcripts
    scorer = scorer or Scorer(cfg)
    lang = language or cfg["transcription"]["language"]
    for s in todo:
        say(f"scoring {s.recording} ({s.duration:.1f} s)")
        try:
            rec = audio.load(s.recording)
            tx = scorer.transcriber.transcribe(rec, lang)
            pack, verdict = scorer.judge(tx)
        except CallauditError as e:
            s.error = str(e)
            continue
        s.verdict = result_json(call_json(rec, tx, s.extension), tx, pack, verdict)
        s.verdict["call"]["source"] = "listen-in"
        transcripts[id(s)] = tx
    return transcripts


def _store():
    try:
        from . import schema, store
    except ImportError:  # the store is optional at run time: the JSON-lines log then holds the audit
        return None, None
    return store, schema


def record_sessions(cfg: Config, sessions: list[ListenSession], db: str | None = None,
                    transcripts: dict[int, Any] | None = None) -> str:
    """Store verdicts and listen_sessions rows (and the JSON-lines log when configured); returns where."""
    store_mod, schema = _store()
    where = []
    if store_mod is not None:
        st = store_mod.open_store(db, cfg)
        try:
            for s in sessions:
                _store_one(store_mod, schema, st, s, (transcripts or {}).get(id(s)))
        finally:
            st.close()
        where.append(st.shown)
    log = cfg["listen"]["audit_log"]
    if log or store_mod is None:
        path = Path(log or "listen-sessions.jsonl")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            for s in sessions:
                row = s.to_json()
                verdict = row.pop("verdict")
                row["score"] = verdict["score"] if verdict else None
                row["flagged"] = verdict["flagged"] if verdict else None
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        where.append(str(path))
    return ", ".join(where)


def _store_one(store_mod, schema, st, s: ListenSession, transcript: Any) -> None:
    from sqlalchemy import select

    call_id = store_mod.save_result(st, s.verdict, transcript) if s.verdict else None
    with st.session() as db:
        agent = db.scalars(select(schema.Agent).where(schema.Agent.extension == s.extension)).first()
        if agent is None:
            agent = schema.Agent(extension=s.extension, name=str(s.agent.get("name", "")),
                                 department=str(s.agent.get("department", "")))
            db.add(agent)
            db.flush()
        if call_id is not None:
            call = db.get(schema.Call, call_id)
            call.extension, call.agent_id, call.started_at = s.extension, agent.id, s.started_at
            call.meta = {**(call.meta or {}), "source": "listen-in", "mode": s.mode, "supervisor": s.supervisor}
        row = schema.ListenSession(supervisor=s.supervisor, agent_id=agent.id, extension=s.extension,
                                   started_at=s.started_at, ended_at=s.ended_at, mode=s.mode,
                                   result=s.result[:64], call_id=call_id)
        db.add(row)
        db.flush()
        s.session_id, s.call_id = row.id, call_id


def last_checked(cfg: Config, db: str | None = None) -> dict[str, datetime]:
    """Extension -> when a listen-in last audited a live call (from the store, else the JSON-lines log)."""
    out: dict[str, datetime] = {}
    store_mod, schema = _store()
    if store_mod is not None:
        from sqlalchemy import func, select

        st = store_mod.open_store(db, cfg)
        try:
            with st.session() as s:
                rows = s.execute(select(schema.ListenSession.extension, func.max(schema.ListenSession.started_at))
                                 .where(schema.ListenSession.result == COMPLETED)
                                 .group_by(schema.ListenSession.extension)).all()
            out.update({ext: when for ext, when in rows if when is not None})
        finally:
            st.close()
        return out
    path = Path(cfg["listen"]["audit_log"] or "listen-sessions.jsonl")
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                when = datetime.fromisoformat(row["started_at"])
            except (ValueError, KeyError):
                continue
            if row.get("result") == COMPLETED and when > out.get(row["extension"], when.min.replace(tzinfo=when.tzinfo)):
                out[row["extension"]] = when
    return out
