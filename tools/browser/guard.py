"""Which URLs the browser may open: http(s) only, allow-listed hosts, no private addresses.

Every hop is checked, the first URL and each redirect target alike. Host names are resolved and
refused when any address they resolve to is private, loopback, link-local, reserved or multicast,
so neither an allow-listed name nor a redirect can steer a fetch into the internal network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from core.errors import ValidationError

Resolver = Callable[[str, int], list[str]]
"""host, port -> the IP addresses the host resolves to."""


def system_resolver(host: str, port: int) -> list[str]:
    """Addresses of `host` from the system resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """True when `host` is an allowed domain or a subdomain of one, or a listed literal IP."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().strip().rstrip(".")
        if not entry:
            continue
        if host == entry or (not _is_ip(entry) and host.endswith("." + entry)):
            return True
    return False


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(
    url: str,
    allowed: Iterable[str],
    resolver: Resolver | None = system_resolver,
) -> str:
    """Return `url` if the browser may open it, else raise ValidationError saying why.

    With `resolver=None` only the scheme and the allow-list are checked (no DNS): a cheap
    refusal before the cache is consulted; the browser checks addresses on every hop.
    """
    checked_address(url, allowed, resolver)
    return url


def checked_address(
    url: str,
    allowed: Iterable[str],
    resolver: Resolver | None = system_resolver,
) -> str | None:
    """Check `url` like `check_url` and return the public address to connect to.

    None when the host is a literal IP or no resolver was given. Connecting to exactly this
    address (instead of resolving again) closes the DNS-rebinding gap between check and use.
    """
    allowed = tuple(allowed)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError(
            f"only http and https URLs can be fetched; got {parts.scheme or 'no scheme'!r} "
            f"in {url}",
            url=url,
            reason="scheme",
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise ValidationError(f"the URL has no host: {url}", url=url, reason="host")
    if parts.username or parts.password:
        raise ValidationError(
            f"URLs with credentials are not fetched: {parts.scheme}://…@{host}",
            url=url,
            reason="credentials",
        )
    if not host_allowed(host, allowed):
        raise ValidationError(
            f"{host} is not on the browser's allow-list; allowed domains: {', '.join(allowed)}",
            url=url,
            host=host,
            reason="domain",
        )
    if _is_ip(host) or resolver is None:
        # A literal IP on the allow-list was listed on purpose (tests, an internal mirror).
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationError(f"the URL has a bad port: {url}", url=url, reason="port") from exc
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise ValidationError(
            f"{host} could not be resolved ({exc}); check the URL", url=url, reason="dns"
        ) from exc
    private = [a for a in addresses if not _public(a)]
    if private or not addresses:
        raise ValidationError(
            f"{host} resolves to a private or local address ({', '.join(private) or 'none'}); "
            "the browser only fetches public sites",
            url=url,
            host=host,
            reason="private_address",
        )
    return addresses[0]
