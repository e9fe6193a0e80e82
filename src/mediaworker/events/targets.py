"""Which webhook targets may be called: http(s) only, and never a private address.

A webhook URL is given by whoever enqueues a job, so a POST to it must not reach what only the
worker can reach: the metadata service (169.254.169.254), Redis and Postgres on loopback, the
private network. Unless WEBHOOK_ALLOW_PRIVATE is on:

- the scheme is http or https and there is a host;
- an address written in the URL (`http://10.0.0.5/`, `http://[::1]/`) must be global;
- a host name is resolved and EVERY address it resolves to must be global (a name with one
  public and one private address is refused); the connection then uses only those checked
  addresses (events/delivery.py's `GuardedResolver` is its connector's resolver), so a DNS
  answer that changes between the check and the connect (rebinding) cannot slip a private
  address in.

"Global" is Python's `ipaddress` notion: loopback, private (RFC 1918, fc00::/7), link-local,
shared (100.64/10), multicast, reserved and unspecified addresses are not; an IPv4 address
mapped into IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address it carries.
Redirects are not followed (a 3xx is an answer, not a new target).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from mediaworker.errors import BadInputError

MAX_URL_CHARS = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefusedError(BadInputError):
    """The webhook target is not one this worker may call: not retried."""


def check_url(url: str, *, allow_private: bool) -> SplitResult:
    """The parsed URL if its scheme and (when written as an address) its host may be called."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise TargetRefusedError("webhook URL is not a string of at most 2048 characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise TargetRefusedError("webhook URL is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefusedError(f"webhook URL scheme {parts.scheme[:10]!r} is not http(s)")
    if not parts.hostname:
        raise TargetRefusedError("webhook URL has no host")
    literal = as_address(parts.hostname)
    if literal is not None and not allow_private:
        refuse_unless_global(literal, parts.hostname)
    return parts


def refuse_unless_global(address: IPAddress, host: str) -> None:
    reason = non_global_reason(address)
    if reason is not None:
        raise TargetRefusedError(
            f"webhook host {host[:60]} is {reason} ({address}); "
            "set WEBHOOK_ALLOW_PRIVATE=true to allow it"
        )


def non_global_reason(address: IPAddress) -> str | None:
    """Why `address` must not be called, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
    )
    found = next((name for name, hit in checks if hit), None)
    if found is None and not address.is_global:
        found = "not a public address"
    return found


def as_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
