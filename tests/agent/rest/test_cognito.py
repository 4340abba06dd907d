"""ENCORE_AUTH=cognito: RS256 tokens from a user pool on the session's moto server, verified
against the pool's JWKS endpoint there, with `cognito:groups` mapped to the query-policy role."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from agent.rest.app import create_app
from agent.rest.auth import LocalIssuer, Principal
from agent.rest.config import ApiSettings
from core.settings import Settings
from tests.agent.rest.conftest import PASSWORD, client, running

QUERY = {"measures": ["tickets_sold"], "dimensions": ["channel"]}


def _promoted(token: str) -> str:
    """The token with its groups changed to admin, signature kept: a forgery."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cognito:groups"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@dataclass(frozen=True)
class Pool:
    cognito: Any
    pool_id: str
    client_id: str

    def sign_up(self, name: str, *groups: str) -> None:
        self.cognito.admin_create_user(UserPoolId=self.pool_id, Username=name)
        self.cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=name, Password=PASSWORD + "A1!", Permanent=True
        )
        for group in groups:
            self.cognito.admin_add_user_to_group(
                UserPoolId=self.pool_id, Username=name, GroupName=group
            )

    def tokens(self, name: str, client_id: str | None = None) -> dict[str, str]:
        result = self.cognito.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_NO_SRP_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD + "A1!"},
        )["AuthenticationResult"]
        return {"access": result["AccessToken"], "id": result["IdToken"]}


@pytest.fixture
def pool(moto_endpoint: str, aws_env: None) -> Pool:
    cognito = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=moto_endpoint)
    pool_id = cognito.create_user_pool(PoolName=f"encore-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="encore-api")[
        "UserPoolClient"
    ]["ClientId"]
    for group in ("partner", "analyst", "promoters"):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    return Pool(cognito, pool_id, client_id)


@pytest.fixture
def cognito_api(pool: Pool, moto_endpoint: str, api_warehouse: Settings) -> Iterator[str]:
    settings = api_warehouse.model_copy(
        update={
            "auth": "cognito",
            "cognito_user_pool_id": pool.pool_id,
            "cognito_app_client_id": pool.client_id,
            "cognito_jwks_url": f"{moto_endpoint}/{pool.pool_id}/.well-known/jwks.json",
            "cognito_group_roles": {"promoters": "analyst"},
        }
    )
    with running(create_app(settings, ApiSettings())) as url:
        yield url


def test_cognito_tokens_are_accepted_and_groups_become_roles(pool: Pool, cognito_api: str) -> None:
    pool.sign_up("carla", "partner")
    pool.sign_up("alex", "partner", "analyst")  # the most privileged group wins
    pool.sign_up("maya", "promoters")  # a group mapped by ENCORE_COGNITO_GROUP_ROLES
    for name, role in (("carla", "partner"), ("alex", "analyst"), ("maya", "analyst")):
        for kind, token in pool.tokens(name).items():
            with client(cognito_api, token) as http:
                me = http.get("/v1/me")
                assert me.status_code == 200, (name, kind, me.text)
                assert me.json() == {"user": name, "role": role}
    with client(cognito_api, pool.tokens("carla")["access"]) as partner:
        rows = partner.post("/v1/query", json=QUERY).json()["rows"]
        assert {row[0] for row in rows} == {"partner"}  # the policy's row filter, as for local
    with client(cognito_api, pool.tokens("alex")["access"]) as analyst:
        assert len(analyst.post("/v1/query", json=QUERY).json()["rows"]) > 1


def test_cognito_refuses_other_tokens(
    pool: Pool, cognito_api: str, api_warehouse: Settings
) -> None:
    pool.sign_up("nogroup")
    with client(cognito_api, pool.tokens("nogroup")["access"]) as http:
        response = http.get("/v1/me")
        assert response.status_code == 403 and "no group" in response.json()["detail"]
    other = pool.cognito.create_user_pool_client(UserPoolId=pool.pool_id, ClientName="other")
    pool.sign_up("carla", "partner")
    foreign = pool.tokens("carla", other["UserPoolClient"]["ClientId"])["access"]
    local = LocalIssuer(api_warehouse, ApiSettings()).issue(Principal("ana", "admin"))
    for token in (foreign, local, _promoted(pool.tokens("carla")["access"]), "a.b.c"):
        with client(cognito_api, token) as http:
            assert http.get("/v1/me").status_code == 401
    with client(cognito_api) as http:
        # no password exchange when Cognito issues the tokens
        assert http.post("/v1/token", data={"username": "a", "password": "b"}).status_code == 404
