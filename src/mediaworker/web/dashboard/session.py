"""Who may see the dashboard, and which POSTs it accepts.

- An admin token (ADMIN_TOKENS) is required: as the password of HTTP basic auth (any user
  name; `curl -u :TOKEN`), or typed once into the login form, which sets an HttpOnly,
  SameSite=Strict cookie. The cookie holds not the token but when it was issued and an HMAC
  of that time under the token (`session_value`), so it cannot be used as a bearer token on
  the API, it ends after SESSION_MAX_AGE_S whatever the browser keeps, and removing the
  token from ADMIN_TOKENS ends its sessions. Every comparison is constant-time, against all
  tokens.
- Cross-site requests: a POST must carry the page's CSRF token (an HMAC of the same admin
  token, in the `csrf` form field or the `X-CSRF-Token` header htmx sends), and its
  `Sec-Fetch-Site` (when the browser sends it) must be same-origin or none and its `Origin`
  (when sent) must name this server's host and port (the `Host` header; "null" never
  does). A basic-auth browser sends its credentials cross-site by itself; the token check
  is what stops a forged form, the header checks are a second lock. The login form is
  checked by the headers only (it has no session yet).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import SecretStr

from mediaworker.config import ApiConfig

COOKIE = "mediaworker_dashboard"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SESSION_MAX_AGE_S = 12 * 3600
CLOCK_SLACK_S = 60  # servers behind one balancer may disagree by this much

_basic = HTTPBasic(auto_error=False, description="any user name, an ADMIN_TOKENS token")


class LoginRequired(Exception):
    """No valid admin credential: the browser is sent to the login form."""


@dataclass(frozen=True)
class Operator:
    csrf_token: str


def _derived(token: SecretStr, purpose: bytes) -> str:
    key = token.get_secret_value().encode()
    return hmac.new(key, b"mediaworker-dashboard:" + purpose, hashlib.sha256).hexdigest()


def session_value(token: SecretStr, *, issued_s: int | None = None) -> str:
    issued = int(time.time()) if issued_s is None else issued_s
    return f"{issued}.{_derived(token, b'session:%d' % issued)}"


def _session_token(config: ApiConfig, cookie: str) -> SecretStr:
    issued, _, mac = cookie.partition(".")
    if not issued.isdigit() or not -CLOCK_SLACK_S <= time.time() - int(issued) <= SESSION_MAX_AGE_S:
        raise LoginRequired
    return _admin_of(mac, config.admin_tokens, b"session:%d" % int(issued))


def _admin_of(given: str, tokens: tuple[SecretStr, ...], purpose: bytes | None) -> SecretStr:
    """The admin token `given` is (purpose None) or is derived from; raises LoginRequired."""
    found: SecretStr | None = None
    for token in tokens:  # all of them, every time
        expected = token.get_secret_value() if purpose is None else _derived(token, purpose)
        if hmac.compare_digest(given.encode(), expected.encode()):
            found = token
    if found is None:
        raise LoginRequired
    return found


def admin_token(config: ApiConfig, password: str) -> SecretStr:
    return _admin_of(password, config.admin_tokens, None)


async def require_operator(
    request: Request, basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> Operator:
    config: ApiConfig = request.app.state.settings.api
    if basic is not None:
        token = admin_token(config, basic.password)
    else:
        token = _session_token(config, request.cookies.get(COOKIE, ""))
    return Operator(csrf_token=_derived(token, b"csrf"))


Authenticated = Annotated[Operator, Depends(require_operator)]


def check_same_origin(request: Request) -> None:
    """403 when the browser says the request comes from another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(403, "cross-site request refused")
    origin = request.headers.get("origin")
    # host and port only: behind a TLS-terminating proxy the scheme differs (https outside)
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "cross-site request refused")


async def require_post_from_page(request: Request, operator: Authenticated) -> Operator:
    """An authenticated operator's POST from one of our pages (CSRF token and headers)."""
    check_same_origin(request)
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        given = field if isinstance(field, str) else ""
    if not hmac.compare_digest(given.encode(), operator.csrf_token.encode()):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")
    return operator


FromPage = Annotated[Operator, Depends(require_post_from_page)]
