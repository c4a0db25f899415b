"""Local accounts: Argon2 hashes (argon2-cffi) around the rows in :mod:`avsteg.storage.users`.

For small installations and the demo; the city signs in with Entra ID instead. A failed check
costs the same time whether or not the name exists, so the form does not reveal which names do.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from avsteg.storage import Database, utcnow
from avsteg.storage.users import USER_ROLES, delete_user, find_user, list_users, save_user
from avsteg.storage.web_sessions import end_sessions_of

ROLES = USER_ROLES
_hasher = PasswordHasher()
# Verified against when the name is unknown, so both paths take one Argon2 verification.
_DUMMY_HASH = _hasher.hash("avsteg: no such user")


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created_at: str


def add_account(db: Database, name: str, role: str, password: str) -> bool:
    """Create the account (True) or give an existing one a new role and password (False).

    A changed account's open sessions end: the old password or role no longer holds anywhere.
    """
    name = name.strip()
    if not name:
        raise ValueError("a user name is required")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    with db.unit_of_work() as s:
        _, created = save_user(s, name, role, _hasher.hash(password))
        if not created:
            end_sessions_of(s, name, via="local", reason="account-changed", now=utcnow())
    return created


def remove_account(db: Database, name: str) -> bool:
    """Remove the account and end its open sessions (a browser left signed in is signed out)."""
    name = name.strip()
    with db.unit_of_work() as s:
        removed = delete_user(s, name)
        if removed:
            end_sessions_of(s, name, via="local", reason="account-removed", now=utcnow())
        return removed


def accounts(db: Database) -> list[Account]:
    with db.unit_of_work(readonly=True) as s:
        return [Account(u.name, u.role, u.created_at.isoformat(timespec="minutes"))
                for u in list_users(s)]


def check_password(db: Database, name: str, password: str) -> Account | None:
    """The account when the password is right, else None."""
    with db.unit_of_work(readonly=True) as s:
        row = find_user(s, name.strip())
        stored = row.password_hash if row is not None else _DUMMY_HASH
        account = Account(row.name, row.role, row.created_at.isoformat()) if row else None
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return account
