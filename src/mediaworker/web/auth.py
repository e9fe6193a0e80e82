"""Bearer tokens: API_TOKENS may enqueue and read, ADMIN_TOKENS may also retry and cancel.

A token is compared with every configured token in constant time (`hmac.compare_digest`,
never `==`), all of them every time, so neither the answer's timing nor its content tells
which part of a guess was right. No token, or an unknown one: 401 with a
`WWW-Authenticate: Bearer` header. A producer token on an admin route: 403.
"""

from __future__ import annotations

import hmac
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from mediaworker.config import ApiConfig


class Role(IntEnum):
    PRODUCER = 1
    ADMIN = 2


_bearer = HTTPBearer(auto_error=False, description="API_TOKENS or ADMIN_TOKENS")


def _matches(given: bytes, tokens: tuple[SecretStr, ...]) -> bool:
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given, token.get_secret_value().encode())
    return found


def role_of(token: str, config: ApiConfig) -> Role | None:
    """The role a token grants, or None."""
    given = token.encode()
    is_admin = _matches(given, config.admin_tokens)
    is_producer = _matches(given, config.tokens)
    if is_admin:
        return Role.ADMIN
    return Role.PRODUCER if is_producer else None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


def caller_role(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Role:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    config: ApiConfig = request.app.state.settings.api
    role = role_of(credentials.credentials, config)
    if role is None:
        raise _unauthorized("the token is not valid")
    return role


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def require_producer(request: Request, credentials: Credentials) -> Role:
    return caller_role(request, credentials)


async def require_admin(request: Request, credentials: Credentials) -> Role:
    if caller_role(request, credentials) < Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this action needs an admin token")
    return Role.ADMIN


Producer = Depends(require_producer)
Admin = Depends(require_admin)
