"""Login throttling: failed logins are rows in the platform database, counted per account and per client
address over a sliding window, so every API replica sees the same counts. A throttled login is refused
before its password is checked (429 with Retry-After); a successful one clears its account's count.
Password-reset requests are counted the same way (`reset_requested`), known email or not, so that neither
a mailbox can be flooded nor the answer tell whether an account exists."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.settings import ApiSettings
from platform_api.problems import Problem
from store import LoginAttempt, utcnow


def subjects(email: str, address: str | None) -> dict[str, str]:
    return {"account": f"account:{email.lower()}", "address": f"address:{address or 'unknown'}"}


def check(db: Session, *, email: str, address: str | None, settings: ApiSettings) -> None:
    """429 when the account or the address had too many failures in the window."""
    limits = {"account": settings.login_failures_per_account, "address": settings.login_failures_per_address}
    over = _over_limit(db, subjects(email, address), limits, timedelta(minutes=settings.login_throttle_minutes))
    if over:
        raise _too_many(*over)


def reset_requested(db: Session, *, email: str, address: str | None, settings: ApiSettings) -> None:
    """Count a password-reset request (committed by the caller); 429 when the email or the address asked too
    often in the window."""
    limits = {"account": settings.reset_requests_per_account, "address": settings.reset_requests_per_address}
    window = timedelta(minutes=settings.login_throttle_minutes)
    reset_subjects = {kind: f"reset-{subject}" for kind, subject in subjects(email, address).items()}
    over = _over_limit(db, reset_subjects, limits, window)
    if over:
        kind, retry_after = over
        raise Problem(
            429,
            "too-many-reset-requests",
            "Too many reset requests",
            f"Too many password-reset requests for {'this email' if kind == 'account' else 'your address'}. "
            f"Try again in {retry_after} seconds.",
            hint="Look for the link already sent (and your spam folder) before asking again.",
            headers={"Retry-After": str(retry_after)},
        )
    for subject in reset_subjects.values():
        db.execute(
            delete(LoginAttempt).where(LoginAttempt.subject == subject, LoginAttempt.created_at <= utcnow() - window)
        )
        db.add(LoginAttempt(subject=subject))


def _over_limit(
    db: Session, counted: dict[str, str], limits: dict[str, int], window: timedelta
) -> tuple[str, int] | None:
    """The first (kind, seconds until it frees) whose subject reached its limit in the window, if any."""
    for kind, subject in counted.items():
        count, oldest = db.execute(
            select(func.count(), func.min(LoginAttempt.created_at)).where(
                LoginAttempt.subject == subject, LoginAttempt.created_at > utcnow() - window
            )
        ).one()
        if count >= limits[kind]:
            return kind, max(1, math.ceil((oldest + window - utcnow()).total_seconds()))
    return None


def record_failure(db: Session, *, email: str, address: str | None, settings: ApiSettings) -> None:
    """Count one failure (committed by the caller) and drop this subject's rows older than the window."""
    cutoff = utcnow() - timedelta(minutes=settings.login_throttle_minutes)
    for subject in subjects(email, address).values():
        db.execute(delete(LoginAttempt).where(LoginAttempt.subject == subject, LoginAttempt.created_at <= cutoff))
        db.add(LoginAttempt(subject=subject))


def clear_account(db: Session, *, email: str) -> None:
    db.execute(delete(LoginAttempt).where(LoginAttempt.subject == subjects(email, None)["account"]))


def _too_many(kind: str, retry_after: int) -> Problem:
    what = "this account" if kind == "account" else "your address"
    return Problem(
        429,
        "too-many-login-attempts",
        "Too many failed logins",
        f"Too many failed logins for {what}. Try again in {retry_after} seconds.",
        hint="Wait, or reset your password at POST /api/v1/auth/password-reset.",
        headers={"Retry-After": str(retry_after)},
    )
