"""Options the tools' commands share: who a command acts as, as `encore ask` does."""

from __future__ import annotations

from typing import Annotated

import typer

RoleOption = Annotated[
    str, typer.Option(envvar="ENCORE_ROLE", help="governance role: admin, analyst, partner")
]
"""--role: the governance role the command's queries run as (else ENCORE_ROLE, else analyst)."""
UserOption = Annotated[str, typer.Option(envvar="ENCORE_USER", help="user recorded in the audit")]
"""--user: who the audit log names (else ENCORE_USER, else local)."""
