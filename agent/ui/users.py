"""`encore users add|list|remove`: the local users who sign in to the chat UI and the REST API.

Passwords come from a hidden prompt or one line of stdin (`--password-stdin`), never from the
command line, where other local users could read them in the process list or shell history.
Replacing or removing a user also revokes the API tokens they hold, so a lowered role or a
removed user takes effect at once rather than when the tokens expire. The chat UI and the API
check the user file itself on every message and request as well, so an open chat ends at its
next message once its user is removed, and a changed role applies from then on.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.errors import ValidationError
from core.settings import Settings

from .auth import UserStore
from .config import ROLES

users_app = typer.Typer(
    help="Local users of the chat UI and the REST API (POST /v1/token): add, list, remove.",
    no_args_is_help=True,
)
console = Console()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _revoke_tokens(settings: Settings, name: str) -> None:
    """Deny the API tokens `name` holds (their role or password has just changed)."""
    from agent.rest.config import api_dir
    from agent.rest.revocation import Denylist

    Denylist(api_dir(settings) / "revoked.sqlite").revoke_user(name)


@users_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="the sign-in name (also the audit user)")],
    role: Annotated[
        str, typer.Option(help=f"query-policy role: {', '.join(ROLES)} (least to most access)")
    ] = "analyst",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from one line of stdin")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="change an existing user's password and role")
    ] = False,
) -> None:
    """Add a user (the password is asked for, hidden, or read from stdin); stored scrypt-hashed."""
    settings = Settings()
    store = UserStore(settings)
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    existed = name in store.names()
    if existed and not replace:
        raise ValidationError(
            f"user {name!r} exists; add --replace to change their password and role", user=name
        )
    user = store.add(name, _password(password_stdin), role=role)
    if existed:
        _revoke_tokens(settings, name)
    verb = "Replaced" if existed else "Added"
    console.print(
        f"{verb} user {user.name} ({user.role}) in {store.path}: they sign in to the chat UI "
        "(`encore ui`) and get API tokens from POST /v1/token (`encore serve api`)."
        + (" Their earlier API tokens are revoked." if existed else "")
    )


@users_app.command("list")
def list_command() -> None:
    """The local users and their roles."""
    store = UserStore(Settings())
    users = store.users()
    if not users:
        console.print(f"No users in {store.path}; add one with `encore users add NAME`.")
        return
    table = Table("user", "role")
    for user in users:
        table.add_row(user.name, user.role)
    console.print(table)


@users_app.command("remove")
def remove_command(name: Annotated[str, typer.Argument(help="the user to remove")]) -> None:
    """Remove a user; the API tokens they hold are revoked."""
    settings = Settings()
    if not UserStore(settings).remove(name):
        raise ValidationError(f"no user {name!r}; `encore users list` shows them", user=name)
    _revoke_tokens(settings, name)
    console.print(
        f"Removed user {name}; their API tokens are revoked and their open chats end at their "
        "next message."
    )
