"""After a listen-in: score each recording with the full pipeline, store it as a spot check, and write
the session's audit row (who listened to whom, when, in which mode, with what result).

The audit goes to the store's `listen_sessions` table; `[listen] audit_log` additionally appends each
session as one JSON line. The SIP password never reaches either: sessions do not carry it.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from callaudit.config import Config
from callaudit.errors import CallauditError
from callaudit.sources.listen import COMPLETED, ListenSession

if TYPE_CHECKING:
    from callaudit.analysis.pipeline import ScoredCall
    from callaudit.store.schema import AgentRow

# The store (SQLAlchemy) and the score pipeline are imported where they are used: `listen` imports
# this module before it dials, and the first audio frame must not wait for them.

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
        from callaudit.store import db as store_db
        from callaudit.store.schema import ListenSessionRow

        try:
            with _opening:  # one store for all the rows a spot check begins at once
                if db not in _opened:
                    _opened[db] = store_db.open_store(db, cfg)
            with _opened[db].session() as s:
                row = ListenSessionRow(supervisor=session.supervisor, agent_id=_agent(s, session).id,
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
                   scorer=None, say: Callable[[str], None] = print) -> dict[int, "ScoredCall"]:
    """Score every completed recording; `session.verdict` gets its JSON, and the scored calls are returned
    by id(session) for `record_sessions` to store."""
    from callaudit.analysis.contract import result_json
    from callaudit.analysis.pipeline import Scorer

    scored: dict[int, ScoredCall] = {}
    todo = [s for s in sessions if s.result == COMPLETED and s.recording]
    if not todo:
        return scored
    scorer = scorer or Scorer(cfg)
    for s in todo:
        say(f"scoring {s.recording} ({s.duration:.1f} s)")
        try:
            call = scorer.score_file(s.recording, language or cfg.transcription.language, s.extension,
                                     source="listen-in")
        except CallauditError as e:
            s.error = str(e)
            continue
        s.verdict = result_json(call)
        scored[id(s)] = call
    return scored


def record_sessions(cfg: Config, sessions: list[ListenSession], db: str | None = None,
                    scored: dict[int, "ScoredCall"] | None = None) -> str:
    """Store verdicts and listen_sessions rows (and the JSON-lines log when configured); returns where."""
    from callaudit.store import db as store_db

    st = store_db.open_store(db, cfg)
    try:
        for s in sessions:
            _store_one(st, s, (scored or {}).get(id(s)))
        if scored:  # a listen-in's requests join the customer's others (never failing the listen-in)
            from callaudit.jobs.requests import refresh_quietly

            refresh_quietly(st, cfg, say=lambda m: None)
    finally:
        st.close()
    where = [st.shown]
    if cfg.listen.audit_log:
        path = Path(cfg.listen.audit_log)
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


def _store_one(st, s: ListenSession, scored: "ScoredCall | None") -> None:
    from callaudit.store.schema import CallRow, ListenSessionRow
    from callaudit.store.verdicts import save_result

    call_id = save_result(st, scored) if scored else None
    with st.session() as db:
        agent = _agent(db, s)
        if call_id is not None:
            call = db.get(CallRow, call_id)
            call.extension, call.agent_id, call.started_at = s.extension, agent.id, s.started_at
            call.meta = {**(call.meta or {}), "source": "listen-in", "mode": s.mode, "supervisor": s.supervisor}
        row = db.get(ListenSessionRow, s.session_id) if s.session_id else None  # begun before dialling
        if row is None:
            row = ListenSessionRow(supervisor=s.supervisor, agent_id=agent.id, extension=s.extension,
                                   started_at=s.started_at)
            db.add(row)
        row.ended_at, row.mode, row.result, row.call_id = s.ended_at, s.mode, s.result[:64], call_id
        db.flush()
        s.session_id, s.call_id = row.id, call_id


def _agent(db, s: ListenSession) -> "AgentRow":
    """The session's agent row, added from [roster] the first time the extension is seen."""
    from sqlalchemy import select

    from callaudit.store.schema import AgentRow

    agent = db.scalars(select(AgentRow).where(AgentRow.extension == s.extension)).first()
    if agent is None:
        agent = AgentRow(extension=s.extension, name=str(s.agent.get("name", "")),
                         department=str(s.agent.get("department", "")))
        db.add(agent)
        db.flush()
    return agent


def last_checked(cfg: Config, db: str | None = None) -> dict[str, datetime]:
    """Extension -> when a listen-in last audited a live call."""
    from sqlalchemy import func, select

    from callaudit.store import db as store_db
    from callaudit.store.schema import ListenSessionRow

    st = store_db.open_store(db, cfg)
    try:
        with st.session() as s:
            rows = s.execute(select(ListenSessionRow.extension, func.max(ListenSessionRow.started_at))
                             .where(ListenSessionRow.result == COMPLETED)
                             .group_by(ListenSessionRow.extension)).all()
    finally:
        st.close()
    return {ext: when for ext, when in rows if when is not None}
