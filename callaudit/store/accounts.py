"""Workspace accounts: users and their roles, passwords (argon2 hashes only), login throttling, browser
sessions, and the log of who opened which call page, recording or clip.

The web workspace and the CLI's `review` / `appeal` both authenticate here, so that a decision's author
is an account proved by its password, whichever door it came through.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from callaudit.errors import CallauditError
from callaudit.store.schema import LoginAttemptRow, UserRow, ViewRow, WebSessionRow, utcnow

ADMIN, HR, SUPERVISOR, AGENT = "admin", "hr", "supervisor", "agent"
ROLES = (ADMIN, HR, SUPERVISOR, AGENT)
DECIDERS = (ADMIN, HR)  # who confirms, dismisses and decides appeals
NAME_CHARS = 200  # users.name's width
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
CALL_PAGE, RECORDING, CLIP = "call", "recording", "clip"

_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Verified against when the name is unknown, so that a wrong name takes as long as a wrong password.
    Made on first use, not at import: every command that reads decisions imports this module, and a hash
    costs a tenth of a second or more."""
    return _hasher.hash(secrets.token_hex(16))


class AuthError(CallauditError):
    """A login refused: wrong name or password, a disabled account, or too many failures."""


class Throttled(AuthError):
    """Too many failed logins: the account (or the address) waits, even with the right password."""


@dataclass(frozen=True)
class Throttle:
    """How many failed logins (of one account, from one address) within `minutes` before a pause."""

    attempts: int = 5
    address_attempts: int = 20
    minutes: int = 15


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise CallauditError("an account needs a name")
    if len(name) > NAME_CHARS:
        raise CallauditError(f"an account name is at most {NAME_CHARS} characters; this one has {len(name)}")
    if any(ord(ch) < 32 for ch in name):
        raise CallauditError("an account name cannot hold control characters (newlines, tabs)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise CallauditError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise CallauditError(f"a password is at most {MAX_PASSWORD} characters")
    return password


def add_user(s: Session, name: str, role: str, password: str, extension: str | None = None,
             department: str = "") -> UserRow:
    """A new account; an agent names the extension they answer on, a supervisor their department."""
    name = check_name(name)
    if role not in ROLES:
        raise CallauditError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    extension = (extension or "").strip() or None
    department = (department or "").strip()
    if role == AGENT and not extension:
        raise CallauditError(f"agent {name!r} needs --extension: an agent sees the calls of their extension")
    if role == SUPERVISOR and not department:
        raise CallauditError(f"supervisor {name!r} needs --department: a supervisor sees their department")
    if s.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise CallauditError(f"account {name!r} exists already")
    row = UserRow(name=name, role=role, extension=extension, department=department,
                  password_hash=_hasher.hash(check_password(password)), disabled=False)
    s.add(row)
    s.flush()
    return row


def find_user(s: Session, name: str) -> UserRow:
    row = s.scalars(select(UserRow).where(UserRow.name == check_name(name))).first()
    if row is None:
        raise CallauditError(f"no account {name!r}: see `callaudit users list`")
    return row


def list_users(s: Session) -> list[UserRow]:
    return list(s.scalars(select(UserRow).order_by(UserRow.name)))


def set_disabled(s: Session, name: str, disabled: bool = True) -> UserRow:
    """Disable (or enable again) an account; disabling ends its sessions at once."""
    row = find_user(s, name)
    row.disabled = disabled
    if disabled:
        s.execute(update(WebSessionRow).where(WebSessionRow.user_id == row.id, WebSessionRow.ended_at.is_(None))
                  .values(ended_at=utcnow()))
    return row


def set_password(s: Session, user: UserRow, password: str, keep: int | None = None) -> None:
    """A new password; every session of the account ends (a stolen one with it), but `keep` (the one
    that changed it)."""
    user.password_hash = _hasher.hash(check_password(password))
    s.execute(update(WebSessionRow).where(WebSessionRow.user_id == user.id, WebSessionRow.ended_at.is_(None),
                                          WebSessionRow.id != (keep or -1)).values(ended_at=utcnow()))


def verify_password(user: UserRow, password: str) -> bool:
    """Whether `password` is the account's (no throttling: for a logged-in user confirming a change)."""
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def wait_seconds(s: Session, name: str, address: str, limits: Throttle, now: datetime | None = None) -> int:
    """Seconds before `name` (or anyone from `address`) may try again; 0 = now."""
    now = now or utcnow()
    since = now - timedelta(minutes=limits.minutes)
    last_ok = s.scalar(select(func.max(LoginAttemptRow.at)).where(LoginAttemptRow.name == name,
                                                                   LoginAttemptRow.ok.is_(True)))
    start = max(since, last_ok) if last_ok else since
    waits = []
    for column, value, limit, after in ((LoginAttemptRow.name, name, limits.attempts, start),
                                        (LoginAttemptRow.address, address, limits.address_attempts, since)):
        if not value:
            continue
        n, last = s.execute(select(func.count(), func.max(LoginAttemptRow.at))
                            .where(column == value, LoginAttemptRow.ok.is_(False), LoginAttemptRow.at > after)).one()
        if n >= limit and last is not None:
            waits.append((last + timedelta(minutes=limits.minutes) - now).total_seconds())
    return max([0, *[int(w) + 1 for w in waits if w > 0]])


def authenticate(s: Session, name: str, password: str, address: str = "", limits: Throttle = Throttle()) -> UserRow:
    """The account `name` if `password` is its password, or AuthError. Every try is recorded; after too
    many failures the account (or the address) must wait, even with the right password. Catch AuthError
    inside the caller's transaction, so that it commits and the failed try is counted."""
    name = check_name(name)
    wait = wait_seconds(s, name, address, limits)
    if wait:
        raise Throttled(f"too many failed logins: try again in {max(1, round(wait / 60))} minute(s)")
    user = s.scalars(select(UserRow).where(UserRow.name == name)).first()
    try:
        _hasher.verify(user.password_hash if user else _dummy(), password or "")
        good = user is not None
    except (VerificationError, InvalidHashError):
        good = False
    s.add(LoginAttemptRow(name=name, address=address[:64], ok=good))
    if not good:
        raise AuthError("wrong name or password")
    if user.disabled:
        raise AuthError(f"account {name!r} is disabled")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(s: Session, user: UserRow, address: str, minutes: int) -> tuple[str, WebSessionRow]:
    """A new browser session: (the random token for the cookie, its row holding the CSRF token)."""
    token = secrets.token_urlsafe(32)
    row = WebSessionRow(token_hash=_digest(token), user_id=user.id, csrf=secrets.token_urlsafe(32),
                        address=address[:64], expires_at=utcnow() + timedelta(minutes=minutes))
    s.add(row)
    s.flush()
    return token, row


def session_for(s: Session, token: str) -> tuple[WebSessionRow, UserRow] | None:
    """The live session of a cookie's token and its account; None when ended, expired or disabled."""
    if not token:
        return None
    found = s.execute(select(WebSessionRow, UserRow).join(UserRow, UserRow.id == WebSessionRow.user_id)
                      .where(WebSessionRow.token_hash == _digest(token))).first()
    if found is None:
        return None
    row, user = found
    if row.ended_at is not None or row.expires_at <= utcnow() or user.disabled:
        return None
    return row, user


def end_session(s: Session, token: str) -> None:
    s.execute(update(WebSessionRow).where(WebSessionRow.token_hash == _digest(token),
                                          WebSessionRow.ended_at.is_(None)).values(ended_at=utcnow()))


def log_view(s: Session, user: UserRow, what: str, call_id: int | None, detail: str = "", address: str = "") -> None:
    """Record that `user` opened a call page, a recording or a clip."""
    s.add(ViewRow(user_id=user.id, user_name=user.name, what=what, call_id=call_id, detail=detail[:200],
                  address=address[:64]))


def views(s: Session, limit: int = 200, offset: int = 0, user: str | None = None) -> list[ViewRow]:
    """The view log, newest first."""
    q = select(ViewRow).order_by(ViewRow.at.desc(), ViewRow.id.desc())
    if user:
        q = q.where(ViewRow.user_name == user)
    return list(s.scalars(q.limit(limit).offset(offset)))
