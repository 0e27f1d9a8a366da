"""After a listen-in: score each recording with the full pipeline, store it as a spot check, and write
the session's audit row (who listened to whom, when, in which mode, with what result).

The audit goes to the store's `listen_sessions` table; `[listen] audit_log` additionally appends each
session as one JSON line (and is the only record where the store cannot be loaded). The SIP password
never reaches either: sessions do not carry it.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .config import Config
from .errors import CallauditError
from .listen import COMPLETED, ListenSession

IN_PROGRESS = "in progress"  # the result of a row written before dialling, until the session ends
_opened: dict[str | None, Any] = {}
_opening = threading.Lock()


def begin(cfg: Config, session: ListenSession, db: str | None = None) -> Callable[[], int | None]:
    """Write the audit row of a listen-in about to start ("in progress"), so that one cut short by a crash
    or a kill still leaves its trace. It is written from a side thread, while the call is dialled (opening
    the store takes longer than the first audio frame may); the returned function waits for it and gives
    the row's id for `record_sessions` to complete, or None when it could not be written (then
    `record_sessions` writes the whole row, or says why it cannot)."""
    box: dict[str, int] = {}

    def write() -> None:
        store_mod, schema = _store()
        if store_mod is None:
            return
        try:
            with _opening:  # one store for all the rows a spot check begins at once
                if db not in _opened:
                    _opened[db] = store_mod.open_store(db, cfg)
            with _opened[db].session() as s:
                row = schema.ListenSession(supervisor=session.supervisor, agent_id=_agent(schema, s, session).id,
                                           extension=session.extension, started_at=session.started_at,
                                           mode=session.mode, result=IN_PROGRESS)
                s.add(row)
                s.flush()
                box["id"] = row.id
        except Exception:  # reported when the session is recorded: the same store then refuses again
            pass

    thread = threading.Thread(target=write, name="audit", daemon=True)
    thread.start()

    def wait() -> int | None:
        thread.join()
        return box.get("id")
    return wait


def score_sessions(cfg: Config, sessions: list[ListenSession], language: str | None = None,
                   scorer=None, say: Callable[[str], None] = print) -> dict[int, Any]:
    """Score every completed recording in place (`session.verdict`); returns transcripts by id(session).
    A ChanSpy listen-in is mono: the transcript says "unknown" speaker and role rules are not evaluated."""
    from . import audio
    from .contract import call_json
    from .pipeline import Scorer, result_json

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
    call_id = store_mod.save_result(st, s.verdict, transcript) if s.verdict else None
    with st.session() as db:
        agent = _agent(schema, db, s)
        if call_id is not None:
            call = db.get(schema.Call, call_id)
            call.extension, call.agent_id, call.started_at = s.extension, agent.id, s.started_at
            call.meta = {**(call.meta or {}), "source": "listen-in", "mode": s.mode, "supervisor": s.supervisor}
        row = db.get(schema.ListenSession, s.session_id) if s.session_id else None  # begun before dialling
        if row is None:
            row = schema.ListenSession(supervisor=s.supervisor, agent_id=agent.id, extension=s.extension,
                                       started_at=s.started_at)
            db.add(row)
        row.ended_at, row.mode, row.result, row.call_id = s.ended_at, s.mode, s.result[:64], call_id
        db.flush()
        s.session_id, s.call_id = row.id, call_id


def _agent(schema, db, s: ListenSession):
    """The session's agent row, added from [roster] the first time the extension is seen."""
    from sqlalchemy import select

    agent = db.scalars(select(schema.Agent).where(schema.Agent.extension == s.extension)).first()
    if agent is None:
        agent = schema.Agent(extension=s.extension, name=str(s.agent.get("name", "")),
                             department=str(s.agent.get("department", "")))
        db.add(agent)
        db.flush()
    return agent


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
