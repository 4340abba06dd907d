"""Local users with scrypt-hashed passwords, the demo login, and the JWT secret Chainlit signs with.

All files live under `<data_dir>/ui` with mode 0600, so they never end up in git (the data dir is
ignored) and other local users cannot read them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.errors import ValidationError
from core.settings import Settings

from .config import ROLES, ui_dir

# scrypt cost: ~50 ms per check on this machine, enough to make offline guessing slow.
_N: Final = 2**14
_R: Final = 8
_P: Final = 1


@dataclass(frozen=True)
class LocalUser:
    """A user allowed to sign in with a password."""

    name: str
    role: str


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$<salt hex>$<hash hex>` for a password (a fresh random salt unless given)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True if `password` matches a `hash_password` result (constant-time comparison)."""
    try:
        scheme, salt_hex, _ = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt_hex)), stored)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600 from the start), whole or not at all: a reader
    (the API checking a password) never sees it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        draft.replace(path)
    finally:
        draft.unlink(missing_ok=True)


class UserStore:
    """The local users file: `{"users": {name: {"password": hash, "role": role}}}`.

    The chat UI and the REST API (POST /v1/token) read it; `encore users` and the demo write it.
    """

    def __init__(self, settings: Settings) -> None:
        self.path = ui_dir(settings) / "users.json"
        self._seen: tuple[tuple[int, int, int] | None, dict[str, dict[str, Any]]] = (None, {})

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        users: dict[str, dict[str, Any]] = data.get("users", {})
        return users

    def _current(self) -> dict[str, dict[str, Any]]:
        """The users as the file has them now, read again only when it changed: every write
        replaces the file, so its inode, size and mtime identify one version of it."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return {}
        version = (found.st_ino, found.st_size, found.st_mtime_ns)
        seen, users = self._seen
        if version != seen:
            # stat before reading: a write in between costs one more read, never a stale answer
            users = self._load()
            self._seen = (version, users)
        return users

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The users to change, written back on exit; one writer at a time across processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(".users.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            users = self._load()
            yield users
            _write_private(self.path, json.dumps({"users": users}, indent=2))
        finally:
            os.close(fd)  # releases the lock

    def names(self) -> list[str]:
        """Every local user name, sorted."""
        return sorted(self._load())

    def users(self) -> list[LocalUser]:
        """Every local user with their role, sorted by name."""
        return [
            LocalUser(name, str(record.get("role", "analyst")))
            for name, record in sorted(self._load().items())
        ]

    def user(self, name: str) -> LocalUser | None:
        """The user as the store has them now (their current role), None once removed.

        Cheap enough for every chat message and API request: a `stat` of the file, read again
        only after a change.
        """
        record = self._current().get(name)
        return None if record is None else LocalUser(name, str(record.get("role", "analyst")))

    def add(self, name: str, password: str, role: str = "analyst") -> LocalUser:
        """Create or replace a user; the password is stored hashed."""
        if role not in ROLES:
            raise ValidationError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
        if not name.strip() or name != name.strip() or len(password) < 8:
            raise ValidationError(
                "a user needs a name (no spaces around it) and a password of at least 8 characters"
            )
        record = {"password": hash_password(password), "role": role}
        with self._changing() as users:
            users[name] = record
        return LocalUser(name, role)

    def remove(self, name: str) -> bool:
        """Delete a user; False if there was none of that name."""
        with self._changing() as users:
            return users.pop(name, None) is not None

    def authenticate(self, name: str, password: str) -> LocalUser | None:
        """The user if the password matches, else None (unknown users cost the same time)."""
        record = self._load().get(name)
        stored = record["password"] if record else hash_password("x")
        if check_password(password, stored) and record is not None:
            return LocalUser(name, str(record.get("role", "analyst")))
        return None


def ensure_demo_user(settings: Settings, name: str = "demo") -> tuple[str, str]:
    """Create the demo user once with a random password; returns (name, password) every time.

    The password is kept in a 0600 file next to the users so `encore ui` can print it again.
    """
    login_file = ui_dir(settings) / "demo_login.txt"
    store = UserStore(settings)
    if login_file.exists() and name in store.names():
        saved_name, _, password = login_file.read_text(encoding="utf-8").strip().partition(":")
        if saved_name == name and password:
            return name, password
    password = secrets.token_urlsafe(9)
    store.add(name, password, role="analyst")
    _write_private(login_file, f"{name}:{password}\n")
    return name, password


def ensure_auth_secret(settings: Settings) -> str:
    """The JWT secret Chainlit signs sessions with: created once under the data dir, then reused."""
    path = ui_dir(settings) / "auth_secret"
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
    secret = secrets.token_urlsafe(48)
    _write_private(path, secret + "\n")
    return secret
