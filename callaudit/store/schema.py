"""The call store's tables, as typed SQLAlchemy 2 ORM classes (Alembic migrations create them).

One recording is one `CallRow`, unique by its sha256. Each scoring of it is a `ScoreRow` holding the full
verdict JSON beside its normalised findings, transcript turns and words; a rescore adds a new current
score and keeps the old one (a verdict that cost someone a bonus must stay on record). The `calls`
row is also the work queue: status queued -> running (leased to one worker) -> scored | failed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, MetaData, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Call states: the queue and the verdict in one column, so a call is never half in one and half in the other.
QUEUED, RUNNING, SCORED, FAILED = "queued", "running", "scored", "failed"
STATUSES = (QUEUED, RUNNING, SCORED, FAILED)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timestamps in UTC on both backends (SQLite keeps no zone: store naive UTC, hand back aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def ours(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name: procrastinate's tables (the PostgreSQL queue, migration 0006) are its own,
    not our models', so that autogenerate neither drops them nor writes them into a revision."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class AgentRow(Base):
    """A person who answers calls, known by the extension they answer on (from [roster])."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    extension: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BatchRunRow(Base):
    """One `callaudit batch` or `callaudit worker` invocation, with what it found and did."""

    __tablename__ = "batch_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # batch | worker
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done (a killed run stays running)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    found: Mapped[int] = mapped_column(default=0)
    queued: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    scored: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    report: Mapped[Optional[dict[str, Any]]]


class CallRow(Base):
    """One recording (unique by content), its metadata, and its place in the work queue."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_status_id", "status", "id"),
                      # The HR reports' reads (migration 0005 says why each).
                      Index("ix_calls_agent_started", "agent_id", "started_at"),
                      Index("ix_calls_report", "status", "started_at", "agent_id", "extension"))
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[Optional[int]] = mapped_column(BigInteger)
    file_mtime: Mapped[Optional[datetime]]
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    error: Mapped[Optional[str]] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[Optional[str]] = mapped_column(String(255))
    lease_token: Mapped[Optional[str]] = mapped_column(String(36))
    lease_until: Mapped[Optional[datetime]]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]
    batch_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batch_runs.id", ondelete="SET NULL"), index=True)
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    extension: Mapped[Optional[str]] = mapped_column(String(32))
    src: Mapped[Optional[str]] = mapped_column(String(64))
    dst: Mapped[Optional[str]] = mapped_column(String(64))
    uniqueid: Mapped[Optional[str]] = mapped_column(String(128), index=True)
    started_at: Mapped[Optional[datetime]] = mapped_column(index=True)  # when the call took place
    language: Mapped[Optional[str]] = mapped_column(String(8))  # asked for: ru | en | auto
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)  # every metadata field and where it came from
    duration: Mapped[Optional[float]] = mapped_column(Float)
    channels: Mapped[Optional[str]] = mapped_column(String(8))

    agent: Mapped[Optional[AgentRow]] = relationship()
    scores: Mapped[list["ScoreRow"]] = relationship(back_populates="call", cascade="all, delete-orphan",
                                                    passive_deletes=True, order_by="ScoreRow.id")

    @property
    def public_id(self) -> str:
        """The id of the JSON contract: the first 16 hex digits of the sha256."""
        return self.sha256[:16]

    @property
    def current_score(self) -> Optional["ScoreRow"]:
        return next((s for s in reversed(self.scores) if s.is_current), None)


class ScoreRow(Base):
    """One scoring of a call: the verdict JSON as printed, plus what produced it (rules, model)."""

    __tablename__ = "scores"
    # At most one current score per call, enforced by the database, not by care.
    __table_args__ = (Index("uq_scores_current_call", "call_id", unique=True,
                            sqlite_where=sql_text("is_current"), postgresql_where=sql_text("is_current")),
                      # The HR reports' reads, the stream's columns included (migrations 0005, 0007).
                      Index("ix_scores_stream", "call_id", "is_current", "score", "flagged", "scored_at",
                            "rules_version", "model_name", "duration"))
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    score: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, index=True)
    flag_reasons: Mapped[list[Any]] = mapped_column(default=list)
    rules_version: Mapped[str] = mapped_column(String(128))
    rules_file: Mapped[str] = mapped_column(Text, default="")
    model_name: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str] = mapped_column(String(16), default="")
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    verdict: Mapped[dict[str, Any]]  # the full `score --json` result
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    worker: Mapped[str] = mapped_column(String(255), default="")
    batch_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batch_runs.id", ondelete="SET NULL"))

    call: Mapped[CallRow] = relationship(back_populates="scores")
    findings: Mapped[list["FindingRow"]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                        order_by="FindingRow.position")
    turns: Mapped[list["TurnRow"]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                  order_by="TurnRow.position")


class FindingRow(Base):
    """One rule's verdict on one scoring, with its evidence."""

    __tablename__ = "findings"
    # The failures of a scoring, which the HR reports count (covering: they read nothing else of them).
    __table_args__ = (Index("ix_findings_failed", "score_id", "status", "position", "rule", "severity",
                            sqlite_where=sql_text("status = 'failed'"), postgresql_where=sql_text("status = 'failed'")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("scores.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    rule: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # passed | failed | not evaluated
    passed: Mapped[Optional[bool]] = mapped_column(Boolean)
    at: Mapped[Optional[float]] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)


class TurnRow(Base):
    """One party speaking without a long pause, as transcribed for one scoring."""

    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("scores.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    speaker: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    loudness_db: Mapped[Optional[float]] = mapped_column(Float)

    words: Mapped[list["WordRow"]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                  order_by="WordRow.position")


class WordRow(Base):
    __tablename__ = "words"
    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(String(200))
    probability: Mapped[float] = mapped_column(Float)


class ReviewRow(Base):
    """An HR reviewer's decision on a call or one of its findings (filled by the HR workflow)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    # No cascade: a review is an HR record and must not vanish with a call.
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    score_id: Mapped[Optional[int]] = mapped_column(ForeignKey("scores.id", ondelete="SET NULL"), index=True)
    finding_id: Mapped[Optional[int]] = mapped_column(ForeignKey("findings.id", ondelete="SET NULL"))
    reviewer: Mapped[str] = mapped_column(String(200))  # the author's name as it was then (old rows: free text)
    decision: Mapped[str] = mapped_column(String(32))  # confirmed | dismissed | appealed | acknowledged | upheld | rejected
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The account that decided (rows from before accounts existed have none, and keep `reviewer`).
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)
    appeal_id: Mapped[Optional[int]] = mapped_column(ForeignKey("reviews.id"), index=True)  # the appeal decided


class ListenSessionRow(Base):
    """Audit of a live listen-in: who listened to whom, when, how long, in which mode, with what outcome."""

    __tablename__ = "listen_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    supervisor: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    extension: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[Optional[datetime]]
    mode: Mapped[str] = mapped_column(String(16), default="listen")  # listen | whisper | barge
    result: Mapped[Optional[str]] = mapped_column(String(64))  # e.g. completed | no-call | failed: reason
    call_id: Mapped[Optional[int]] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)


class RefusedFileRow(Base):
    """A file a batch found among the recordings but could not read at all (a FIFO, a device, a broken or
    looping link, no permission): there is no content to key a call by, so it is kept by its path, with
    why, until a later batch finds a readable recording there."""

    __tablename__ = "refused_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    reason: Mapped[str] = mapped_column(Text)
    batch_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batch_runs.id", ondelete="SET NULL"))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class UserRow(Base):
    """A workspace account: who decides, appeals or reads. Only an argon2 hash of the password is kept."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | hr | supervisor | agent
    extension: Mapped[Optional[str]] = mapped_column(String(32))  # an agent's own calls
    department: Mapped[str] = mapped_column(String(200), default="")  # a supervisor's department
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSessionRow(Base):
    """A logged-in browser. The cookie carries a signed random token; only its sha256 is stored, so that
    reading the store gives no live session. Ended at logout, expiry, or when the account is disabled."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[Optional[datetime]]


class LoginAttemptRow(Base):
    """One try at logging in (web or CLI), for throttling: kept in the store so that every server and
    every restart sees the same count."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_name_at", "name", "at"), Index("ix_login_attempts_address_at", "address", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64), default="")
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ViewRow(Base):
    """Who opened which call page, recording or clip, and when (admins read this log)."""

    __tablename__ = "view_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)
    user_name: Mapped[str] = mapped_column(String(200))
    what: Mapped[str] = mapped_column(String(16))  # call | recording | clip
    call_id: Mapped[Optional[int]] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    detail: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CalibrationRow(Base):
    """A calibration session: a sample of calls that reviewers score blind, rule by rule."""

    __tablename__ = "calibration_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    call_ids: Mapped[list[Any]] = mapped_column(default=list)  # calls.id of the sample, in order


class CalibrationVerdictRow(Base):
    """One reviewer's blind pass/fail on one rule of one call in a calibration session."""

    __tablename__ = "calibration_verdicts"
    __table_args__ = (Index("uq_calibration_verdicts_one", "session_id", "call_id", "rule", "user_id", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    score_id: Mapped[Optional[int]] = mapped_column(ForeignKey("scores.id", ondelete="SET NULL"))
    rule: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verdict: Mapped[str] = mapped_column(String(8))  # pass | fail
    at: Mapped[datetime] = mapped_column(default=utcnow)


# The tables of requests followed across calls (#12) live beside these; imported here so that every
# user of Base.metadata (migrations, tests) sees them.
from callaudit.store import request_rows as _request_rows  # noqa: E402,F401
