"""The tables of customers' requests followed across calls (#12): who the customer of a call is, each
request and its commitment, what later calls say about them, the derived statuses, closures by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callaudit.store.schema import Base, utcnow


class CallCustomerRow(Base):
    """Who the customer of a call is and when the call took place, as the requests extraction read them,
    and which scoring (and which settings, `digest`) its requests were extracted from."""

    __tablename__ = "call_customers"
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    score_id: Mapped[Optional[int]] = mapped_column(ForeignKey("scores.id", ondelete="SET NULL"))
    digest: Mapped[str] = mapped_column(String(64))
    customer: Mapped[Optional[str]] = mapped_column(String(32), index=True)  # E.164; None: customer unknown
    customer_why: Mapped[str] = mapped_column(Text, default="")
    direction: Mapped[Optional[str]] = mapped_column(String(16))  # inbound | outbound | None
    agent: Mapped[Optional[str]] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(index=True)
    start_source: Mapped[str] = mapped_column(Text, default="")
    timed_by_metadata: Mapped[bool] = mapped_column(Boolean, default=True)  # False: file mtime, a last resort
    language: Mapped[str] = mapped_column(String(8), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # why nothing could be followed, when so
    extracted_at: Mapped[datetime] = mapped_column(default=utcnow)


class RequestRow(Base):
    """A customer's request or reported problem in one call, and the agent's commitment to it (what, by
    when). Replaced whenever its call is rescored; `public_id` comes from what was said and where, so the
    same words give the same id again."""

    __tablename__ = "requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # request | problem
    topics: Mapped[list[Any]] = mapped_column(default=list)
    customer: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    agent: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    asked_at: Mapped[datetime] = mapped_column(index=True)  # when it was said (the call's start if not known)
    request: Mapped[Optional[dict[str, Any]]]  # the customer's words: quote, offset, status, ...
    commitment: Mapped[Optional[dict[str, Any]]]  # the agent's words and the deadline's reading
    committed_at: Mapped[Optional[datetime]]
    due: Mapped[Optional[datetime]] = mapped_column(index=True)
    due_source: Mapped[Optional[str]] = mapped_column(String(8))  # said | default
    done_in_call: Mapped[Optional[dict[str, Any]]]  # the agent reporting it done later in the same call


class RequestEventRow(Base):
    """Something said in a call that tells about earlier requests of its customer: the agent reports it
    done, the customer confirms it, or says nobody came / called back."""

    __tablename__ = "request_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    customer: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # done | confirmed | not_done
    at: Mapped[datetime]
    said: Mapped[dict[str, Any]]  # quote, offset, speaker, status, score, example


class RequestStatusRow(Base):
    """A request's status as last recomputed (derived: rebuilt from the rows above at any time), its
    evidence chain, and the cross-call rule's verdict on the agent who made the commitment."""

    __tablename__ = "request_status"
    public_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    fulfilled_at: Mapped[Optional[datetime]]
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    doubt: Mapped[Optional[str]] = mapped_column(Text)
    as_of: Mapped[datetime]
    charged: Mapped[Optional[str]] = mapped_column(String(32), index=True)  # the agent's extension
    finding: Mapped[Optional[dict[str, Any]]]  # rule, title, severity, weight, passed, detail
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RequestClosureRow(Base):
    """A person closing a request by hand, with who and why. Kept by the request's id, without a foreign
    key: an HR record outlives a rescoring (it applies again when the same words give the same id)."""

    __tablename__ = "request_closures"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), index=True)
    by: Mapped[str] = mapped_column(String(200))  # the account's name, as it was then
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
