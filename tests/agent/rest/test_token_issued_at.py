"""A token's issue time is never later than the moment it was signed, so one signed in the
millisecond before a revoke-all cannot look newer than the revocation."""

from __future__ import annotations

import jwt
import pytest

from agent.rest import auth
from agent.rest.auth import LocalIssuer, Principal
from agent.rest.config import ApiSettings
from core.settings import Settings


def test_issued_at_is_rounded_down_to_the_millisecond(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_at = 1_795_793_443.5069919  # rounding to nearest made it ...443.507: the future
    monkeypatch.setattr(auth.time, "time", lambda: signed_at)
    token = LocalIssuer(settings, ApiSettings()).issue(Principal("ana", "analyst"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iat"] == 1_795_793_443.506 and claims["iat"] <= signed_at
