"""The call store's tables, as typed SQLAlchemy 2 ORM classes (Alembic migrations create them).

One recording is one `Call`, unique by its sha256. Each scoring of it is a `Score` holding the full
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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class Agent(Base):
    """A person who answers calls, known by the extension they answer on (from [roster])."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    extension: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BatchRun(Base):
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


class Call(Base):
    """One recording (unique by content), its metadata, and its place in the work queue."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_status_id", "status", "id"),)
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

    agent: Mapped[Optional[Agent]] = relationship()
    scores: Mapped[list["Score"]] = relationship(back_populates="call", cascade="all, delete-orphan",
                                                 passive_deletes=True, order_by="Score.id")

    @property
    def public_id(self) -> str:
        """The id of the JSON contract: the first 16 hex digits of the sha256."""
        return self.sha256[:16]

    @property
    def current_score(self) -> Optional["Score"]:
        return next((s for s in reversed(self.scores) if s.is_current), None)


class Score(Base):
    """One scoring of a call: the verdict JSON as printed, plus what produced it (rules, model)."""

    __tablename__ = "scores"
    # At most one current score per call, enforced by the database, not by care.
    __table_args__ = (Index("uq_scores_current_call", "call_id", unique=True,
                            sqlite_where=sql_text("is_current"), postgresql_where=sql_text("is_current")),)
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

    call: Mapped[Call] = relationship(back_populates="scores")
    findings: Mapped[list["Finding"]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                     order_by="Finding.position")
    turns: Mapped[list["Turn"]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                               order_by="Turn.position")


class Finding(Base):
    """One rule's verdict on one scoring, with its evidence."""

    __tablename__ = "findings"
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


class Turn(Base):
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

    words: Mapped[list["Word"]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                               order_by="Word.position")


class Word(Base):
    __tablename__ = "words"
    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(String(200))
    probability: Mapped[float] = mapped_column(Float)


class Review(Base):
    """An HR reviewer's decision on a call or one of its findings (filled by the HR workflow)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    # No cascade: a review is an HR record and must not vanish with a call.
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    score_id: Mapped[Optional[int]] = mapped_column(ForeignKey("scores.id", ondelete="SET NULL"))
    finding_id: Mapped[Optional[int]] = mapped_column(ForeignKey("findings.id", ondelete="SET NULL"))
    reviewer: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(32))  # e.g. confirmed | overturned | appealed
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListenSession(Base):
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
